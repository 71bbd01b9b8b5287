//! The key file: server, device id, account and PKCS#8 private key, as JSON, readable
//! by its owner only (mode 0600). Like ssh, a file others can read is refused.

use super::key::DeviceKey;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tessera_domain::PushDeviceId;
use tessera_domain::push::DeviceKeyAlg;
use zeroize::{Zeroize, Zeroizing};

/// Where the key file is when neither `--key-file` nor the variable says.
pub const DEFAULT_PATH: &str = "tessera-authenticator.json";
/// The variable that names the key file.
pub const PATH_VARIABLE: &str = "TESSERA_AUTHENTICATOR_FILE";

/// The key file's contents.
#[derive(Serialize, Deserialize)]
pub struct KeyFile {
    /// The server's base URL (no trailing slash).
    pub server: String,
    pub device_id: String,
    pub username: String,
    #[serde(default)]
    pub issuer: String,
    #[serde(default)]
    pub name: String,
    /// "ES256" or "EdDSA".
    pub alg: String,
    /// PKCS#8, base64url without padding.
    pub private_key: String,
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        self.private_key.zeroize();
    }
}

/// A loaded key file, checked: its device id, algorithm and key pair.
pub struct Device {
    pub file: KeyFile,
    pub id: PushDeviceId,
    pub key: DeviceKey,
}

impl KeyFile {
    /// The device id and key pair this file holds.
    pub fn device(self, path: &Path) -> Result<Device, String> {
        let invalid = |what: String| {
            format!(
                "key file {} is not a valid authenticator key file: {what}",
                path.display()
            )
        };
        let id = self
            .device_id
            .parse::<PushDeviceId>()
            .map_err(|e| invalid(format!("device_id: {e}")))?;
        let alg = DeviceKeyAlg::parse(&self.alg)
            .ok_or_else(|| invalid(format!("alg {:?} (expected ES256 or EdDSA)", self.alg)))?;
        let pkcs8 = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(self.private_key.as_bytes())
                .map_err(|e| invalid(format!("private_key: {e}")))?,
        );
        let key = DeviceKey::from_pkcs8(alg, &pkcs8).map_err(invalid)?;
        Ok(Device {
            file: self,
            id,
            key,
        })
    }
}

/// The key file to use: `--key-file`, else the variable, else the default.
pub fn resolve(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| {
        std::env::var_os(PATH_VARIABLE)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
    .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
}

/// Reads the key file, refusing one that group or others may access.
pub fn load(path: &Path) -> Result<KeyFile, String> {
    let mut file = File::open(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => format!(
            "no authenticator key file at {}: enrol first with `tessera authenticator enroll \
             <link>` (or name the file with --key-file or {PATH_VARIABLE})",
            path.display()
        ),
        _ => format!("cannot open key file {}: {e}", path.display()),
    })?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read key file {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("key file {} is not a regular file", path.display()));
    }
    check_mode(path, meta.permissions().mode())?;
    let mut text = Zeroizing::new(String::new());
    file.read_to_string(&mut text)
        .map_err(|e| format!("cannot read key file {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "key file {} is not a valid authenticator key file: {e}",
            path.display()
        )
    })
}

/// Like ssh: a private key group or others can access is not used.
fn check_mode(path: &Path, mode: u32) -> Result<(), String> {
    if mode & 0o077 != 0 {
        return Err(format!(
            "key file {} is accessible by group or others (mode {:04o}); it must be private: \
             run `chmod 600 {}`",
            path.display(),
            mode & 0o7777,
            path.display()
        ));
    }
    Ok(())
}

/// Before enrolling: refuses to replace an existing file unless `force`.
pub fn check_can_write(path: &Path, force: bool) -> Result<(), String> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot check key file {}: {e}", path.display())),
        Ok(_) if force => Ok(()),
        Ok(_) => Err(match load(path) {
            Ok(existing) => format!(
                "key file {} already holds device {} for {} at {}; use --force to replace it \
                 (or choose another file with --key-file)",
                path.display(),
                existing.device_id,
                existing.username,
                existing.server
            ),
            Err(_) => format!(
                "{} already exists; use --force to replace it (or choose another file with \
                 --key-file)",
                path.display()
            ),
        }),
    }
}

/// Writes the key file with mode 0600: created new, or with `force` written next to it
/// and renamed over the old one (so a replaced file never has the old file's mode).
pub fn save(path: &Path, contents: &KeyFile, force: bool) -> Result<(), String> {
    let mut json = Zeroizing::new(
        serde_json::to_string_pretty(contents)
            .map_err(|e| format!("cannot encode the key file: {e}"))?,
    );
    json.push('\n');
    let write_new = |target: &Path| -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(target)?;
        file.write_all(json.as_bytes())?;
        file.sync_all()
    };
    let failed = |e: std::io::Error| format!("cannot write key file {}: {e}", path.display());
    if !force {
        return write_new(path).map_err(failed);
    }
    let mut tmp_name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| DEFAULT_PATH.into());
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = write_new(&tmp).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(failed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> KeyFile {
        let (_, pkcs8) = DeviceKey::generate(DeviceKeyAlg::EdDsa).unwrap();
        KeyFile {
            server: "https://id.example.com".into(),
            device_id: "0190a0b0-0000-7000-8000-000000000002".into(),
            username: "alice".into(),
            issuer: "https://id.example.com".into(),
            name: "test".into(),
            alg: "EdDSA".into(),
            private_key: URL_SAFE_NO_PAD.encode(&pkcs8),
        }
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn written_with_mode_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        check_can_write(&path, false).unwrap();
        save(&path, &sample(), false).unwrap();
        assert_eq!(mode(&path), 0o600);
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.username, "alice");
        let device = loaded.device(&path).unwrap();
        assert_eq!(device.key.alg(), DeviceKeyAlg::EdDsa);
        assert_eq!(
            device.id.to_string(),
            "0190a0b0-0000-7000-8000-000000000002"
        );
    }

    #[test]
    fn a_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        save(&path, &sample(), false).unwrap();
        for bad in [0o644, 0o640, 0o604, 0o660, 0o602] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(bad)).unwrap();
            let err = load(&path).err().unwrap();
            assert!(
                err.contains("accessible by group or others")
                    && err.contains(&format!("{bad:04o}"))
                    && err.contains("chmod 600"),
                "{err}"
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        load(&path).unwrap();
    }

    #[test]
    fn an_enrolled_file_is_not_overwritten_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        save(&path, &sample(), false).unwrap();
        let err = check_can_write(&path, false).unwrap_err();
        assert!(
            err.contains("already holds device") && err.contains("--force"),
            "{err}"
        );
        assert!(save(&path, &sample(), false).is_err());

        // --force replaces it, and a replaced 0644 file comes back 0600.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        check_can_write(&path, true).unwrap();
        let mut replacement = sample();
        replacement.username = "bob".into();
        save(&path, &replacement, true).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(load(&path).unwrap().username, "bob");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );

        std::fs::write(dir.path().join("other"), "x").unwrap();
        let err = check_can_write(&dir.path().join("other"), false).unwrap_err();
        assert!(err.contains("already exists"), "{err}");
    }

    #[test]
    fn missing_and_corrupt_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.json");
        let err = load(&path).err().unwrap();
        assert!(
            err.contains("no authenticator key file") && err.contains("enroll"),
            "{err}"
        );
        let mut f = sample();
        f.alg = "RS256".into();
        let err = f.device(&path).err().unwrap();
        assert!(err.contains("alg \"RS256\""), "{err}");
    }
}
