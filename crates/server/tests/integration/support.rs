//! Helpers: an HTTP client that keeps the session cookie, and the real `tessera` binary.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "correct horse battery 42";

/// A browser-like client: no automatic redirects (tests look at them), one cookie jar.
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
    cookies: HashMap<String, String>,
}

#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            client,
            base: base.to_owned(),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, r: reqwest::Response) -> Page {
        for v in r.headers().get_all(reqwest::header::SET_COOKIE) {
            let pair = v.to_str().unwrap().split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            if val.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), val.to_owned());
            }
        }
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let location = headers
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let body = r.text().await.unwrap();
        Page {
            status,
            location,
            body,
            headers,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    /// A form post as a browser makes it from one of our pages (same origin).
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("origin", &self.base)
            .header("sec-fetch-site", "same-origin")
            .form(form)
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    /// The Cookie header this browser sends.
    pub fn cookie_for_tests(&self) -> String {
        self.cookie_header()
    }

    /// The same cookies, talking to another node.
    pub fn moved_to(&self, base: &str) -> Self {
        Self {
            client: self.client.clone(),
            base: base.to_owned(),
            cookies: self.cookies.clone(),
        }
    }

    /// Signs in through every step a test can complete by itself: username and password,
    /// then the authenticator app (enrolling one on first sign-in, its key read from the
    /// page) and the completion. Returns the last response: the redirect to where the
    /// sign-in began, or the page of a step it cannot do (a wrong password, the phone check).
    pub async fn sign_in(&mut self, username: &str, password: &str) -> Page {
        self.sign_in_to(username, password, "").await
    }

    /// [`Browser::sign_in`], returning to `next` afterwards.
    pub async fn sign_in_to(&mut self, username: &str, password: &str, next: &str) -> Page {
        let mut page = self
            .post(
                "/signin",
                &[
                    ("username", username),
                    ("password", password),
                    ("next", next),
                ],
            )
            .await;
        for _ in 0..6 {
            let Some(next) = page.location.clone() else {
                return page;
            };
            page = match next.as_str() {
                "/signin/setup/authenticator" => {
                    let form = self.get(&next).await;
                    let key = between(&form.body, "id=\"totp-key\">", "</code>")
                        .unwrap_or_else(|| panic!("no key on the enrolment page: {}", form.body));
                    totp::remember(&self.base, username, &key);
                    let code = totp::next_code(&self.base, username);
                    self.post(&next, &[("code", &code)]).await
                }
                "/signin/code" => {
                    let code = totp::next_code(&self.base, username);
                    self.post(&next, &[("code", &code)]).await
                }
                "/signin/complete" => self.get(&next).await,
                _ => return page,
            };
        }
        page
    }
}

/// The text between two markers.
pub fn between(haystack: &str, start: &str, end: &str) -> Option<String> {
    let from = haystack.find(start)? + start.len();
    let len = haystack[from..].find(end)?;
    Some(haystack[from..from + len].to_owned())
}

/// Authenticator apps for tests: keys enrolled per server and username, and codes that
/// are never replays (each sign-in takes a later time step than the last).
pub mod totp {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use tessera_domain::mfa::{TOTP_STEP_SECONDS, totp_code};

    struct Key {
        secret: Vec<u8>,
        last_step: i64,
    }

    static KEYS: Mutex<Option<HashMap<(String, String), Key>>> = Mutex::new(None);

    fn decode_base32(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let (mut buffer, mut bits) = (0u32, 0);
        for c in text.chars().filter(|c| !c.is_whitespace()) {
            let v = match c {
                'A'..='Z' => c as u32 - 'A' as u32,
                '2'..='7' => c as u32 - '2' as u32 + 26,
                _ => panic!("not base32: {c}"),
            };
            buffer = (buffer << 5) | v;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                out.push((buffer >> bits) as u8);
            }
        }
        out
    }

    pub fn remember(base: &str, username: &str, key_text: &str) {
        let mut keys = KEYS.lock().unwrap();
        keys.get_or_insert_with(HashMap::new).insert(
            (base.to_owned(), username.to_owned()),
            Key {
                secret: decode_base32(key_text),
                last_step: 0,
            },
        );
    }

    /// The server's time: its fake clock when it runs in this process.
    fn now_step(base: &str) -> (i64, Option<tessera_domain::FakeClock>) {
        let clock = tessera_testkit::clock_for(base);
        let now = match &clock {
            Some(c) => tessera_domain::Clock::now(c).unix_timestamp(),
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64,
        };
        (now.div_euclid(TOTP_STEP_SECONDS), clock)
    }

    /// A code the server accepts now and has not seen: the current step's, or the next
    /// one's when the current was used (the server allows one step of drift). A fake clock
    /// is moved on a step when both were used.
    pub fn next_code(base: &str, username: &str) -> String {
        let mut keys = KEYS.lock().unwrap();
        let key = keys
            .get_or_insert_with(HashMap::new)
            .get_mut(&(base.to_owned(), username.to_owned()))
            .unwrap_or_else(|| panic!("no authenticator enrolled for {username} at {base}"));
        let (mut now, clock) = now_step(base);
        if key.last_step > now {
            match clock {
                Some(c) => {
                    c.advance(time::Duration::seconds(TOTP_STEP_SECONDS));
                    now += 1;
                }
                None => {
                    std::thread::sleep(std::time::Duration::from_secs(TOTP_STEP_SECONDS as u64))
                }
            }
        }
        let step = now.max(key.last_step + 1);
        key.last_step = step;
        totp_code(&key.secret, step)
    }

    /// A code for `step_offset` steps from now, ignoring what was used (for replay tests).
    pub fn code_at(base: &str, username: &str, step_offset: i64) -> String {
        let keys = KEYS.lock().unwrap();
        let key = keys
            .as_ref()
            .and_then(|k| k.get(&(base.to_owned(), username.to_owned())))
            .unwrap_or_else(|| panic!("no authenticator enrolled for {username} at {base}"));
        totp_code(&key.secret, now_step(base).0 + step_offset)
    }
}

pub fn setup_form<'a>(
    token: &'a str,
    username: &'a str,
    confirm: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("token", token),
        ("username", username),
        ("given_name", "Ada"),
        ("family_name", "Lovelace"),
        ("email", "ada@agency.gov.sg"),
        ("mobile", "+6591234567"),
        ("password", PASSWORD),
        ("password_confirm", confirm),
    ]
}

pub fn token_of(link: &str) -> String {
    link.split("token=").nth(1).unwrap().to_owned()
}

/// The `tessera` binary with a clean `TESSERA_*` environment, in a working folder.
pub fn tessera(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("TESSERA_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("TESSERA_LOG_LEVEL", "info");
    cmd
}

pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(mut cmd: Command, stdin: Option<&str>) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A running `tessera serve`, with its output collected.
pub struct Served {
    pub child: Child,
    pub base: String,
    pub setup_link: Option<String>,
    /// Kept alive so the reader threads keep draining the child's pipes (a full pipe would
    /// block its logging).
    _output: mpsc::Receiver<String>,
}

impl Served {
    /// Starts `serve` on `port` and waits until it listens (and printed the setup link, if
    /// the database has no administrator).
    // The child is owned by the returned value, whose Drop kills and waits for it.
    #[allow(clippy::zombie_processes)]
    pub fn start(mut cmd: Command, port: u16) -> Self {
        // Nodes of one deployment share an issuer; a caller may set it.
        if !cmd.get_envs().any(|(k, _)| k == "TESSERA_ISSUER") {
            cmd.env("TESSERA_ISSUER", format!("http://localhost:{port}"));
        }
        cmd.arg("serve")
            .env("TESSERA_LISTEN", format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let (tx, rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        // Wait for the listening line; the setup link (if any) follows it within moments.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        let mut setup_link = None;
        let mut listening_since: Option<Instant> = None;
        while Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                if let Some(i) = line.find("http://localhost")
                    && line[i..].contains("/setup?token=")
                {
                    setup_link = Some(line[i..].trim().to_owned());
                }
                if line.contains("Tessera is listening") {
                    listening_since = Some(Instant::now());
                }
                seen.push(line);
            } else if child.try_wait().ok().flatten().is_some() {
                break;
            }
            let settled =
                listening_since.is_some_and(|t| t.elapsed() > Duration::from_millis(1500));
            if listening_since.is_some() && (setup_link.is_some() || settled) {
                return Self {
                    child,
                    base: format!("http://localhost:{port}"),
                    setup_link,
                    _output: rx,
                };
            }
        }
        let _ = child.kill();
        panic!("tessera serve did not start:\n{}", seen.join("\n"));
    }

    pub fn kill_hard(&mut self) {
        let _ = Command::new("kill")
            .args(["-9", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("tessera.db").display())
}
