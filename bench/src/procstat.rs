//! Process figures from /proc: CPU time (utime + stime of every thread) and resident memory.

use anyhow::{Context, Result, anyhow};
use std::process::Command;
use std::sync::OnceLock;

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux we know of).
fn ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// The fields of /proc/<pid>/stat after the command name (which may hold spaces).
fn stat_fields(pid: u32) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    let after = text
        .rfind(')')
        .and_then(|i| text.get(i + 2..))
        .ok_or_else(|| anyhow!("/proc/{pid}/stat is malformed"))?;
    Ok(after.split_whitespace().map(str::to_owned).collect())
}

/// CPU seconds (user + system) a process has used so far, all threads included.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let f = stat_fields(pid)?;
    // After the name: state is field 3, so utime (14) and stime (15) sit at 11 and 12.
    let field = |i: usize| -> Result<f64> {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| anyhow!("/proc/{pid}/stat: no field {}", i + 3))
    };
    Ok((field(11)? + field(12)?) / ticks_per_second())
}

/// CPU seconds every core has spent busy since boot (/proc/stat: user, nice, system, irq,
/// softirq, steal), to see how much of the machine other processes took during a run.
pub fn machine_busy_seconds() -> f64 {
    let Ok(text) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let at = |i: usize| v.get(i).copied().unwrap_or(0.0);
    // user nice system idle iowait irq softirq steal
    (at(0) + at(1) + at(2) + at(5) + at(6) + at(7)) / ticks_per_second()
}

fn parent(pid: u32) -> Option<u32> {
    stat_fields(pid).ok()?.get(1)?.parse().ok()
}

/// Resident memory in bytes (VmRSS).
pub fn rss_bytes(pid: u32) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let line = text
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or_else(|| anyhow!("/proc/{pid}/status has no VmRSS"))?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow!("/proc/{pid}/status: bad VmRSS line {line:?}"))?;
    Ok(kb * 1024)
}

/// The process listening as PostgreSQL on `port` (the postmaster): found by its command
/// line, which carries `-p <port>`.
pub fn postmaster_on_port(port: u16) -> Option<u32> {
    let wanted = port.to_string();
    let entries = std::fs::read_dir("/proc").ok()?;
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
        let is_postgres = args
            .first()
            .is_some_and(|a| a.ends_with(b"postgres") || a.ends_with(b"postmaster"));
        let has_port = args
            .windows(2)
            .any(|w| w[0] == b"-p" && w[1] == wanted.as_bytes());
        if is_postgres && has_port {
            return Some(pid);
        }
    }
    None
}

/// CPU seconds of a process tree one level deep (PostgreSQL: the postmaster and its
/// backends): the root's own time, the time of children it has reaped (cutime + cstime),
/// and that of children alive now.
pub fn tree_cpu_seconds(root: u32) -> f64 {
    let reaped = stat_fields(root)
        .ok()
        .map(|f| {
            let v = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
            (v(13) + v(14)) / ticks_per_second()
        })
        .unwrap_or(0.0);
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return reaped;
    };
    let mut total = reaped;
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == root || parent(pid) == Some(root) {
            total += cpu_seconds(pid).unwrap_or(0.0);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(cpu_seconds(me).unwrap() >= 0.0);
        assert!(rss_bytes(me).unwrap() > 1024 * 1024);
    }
}
