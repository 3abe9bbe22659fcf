//! Machine facts and dates.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::exec::Cmd;
use crate::model::Machine;

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}

/// stdout of a command, or a note saying why there is none; machine facts are best effort.
fn output_of(cmd: Cmd) -> String {
    let shown = cmd.shown().to_string();
    match cmd.run() {
        Ok(o) if o.status.success() => o.stdout.trim().to_string(),
        Ok(o) => format!("`{shown}` failed: {}", first_line(&o.stderr)),
        Err(e) => e.to_string(),
    }
}

fn proc_field(file: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// Collect the machine's facts. `tools` are the versions already found.
pub fn collect(repo: &Path, tools: BTreeMap<String, String>) -> Machine {
    let memory_bytes = proc_field("/proc/meminfo", "MemTotal")
        .and_then(|v| v.trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024);
    let os = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| format!("{} {}", std::env::consts::OS, r.trim()))
        .unwrap_or_else(|_| std::env::consts::OS.to_string());
    let commit = output_of(
        Cmd::new("git")
            .arg("-C")
            .arg(repo)
            .args(["rev-parse", "HEAD"]),
    );
    // Tracked changes only: an untracked file is not part of what strata builds from.
    let dirty = Cmd::new("git")
        .arg("-C")
        .arg(repo)
        .args(["status", "--porcelain", "--untracked-files=no"])
        .run()
        .is_ok_and(|o| o.status.success() && !o.stdout.trim().is_empty());
    Machine {
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        memory_bytes,
        cpu: proc_field("/proc/cpuinfo", "model name").unwrap_or_default(),
        os,
        rustc: output_of(Cmd::new("rustc").arg("-vV")),
        cargo: output_of(Cmd::cargo().arg("-V")),
        tools,
        strata_commit: commit,
        strata_dirty: dirty,
    }
}

/// (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ`) in UTC for `t`.
pub fn utc(t: SystemTime) -> (String, String) {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let date = format!("{y:04}-{m:02}-{d:02}");
    let stamp = format!(
        "{date}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    (date, stamp)
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm), to avoid a date crate
/// for one file name.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates() {
        assert_eq!(utc(UNIX_EPOCH).1, "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29T12:34:56Z
        assert_eq!(utc(t).1, "2024-02-29T12:34:56Z");
    }
}
