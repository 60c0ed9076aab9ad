//! The operator process's footprint from /proc: peak RSS (VmHWM) and CPU time (utime + stime).

use anyhow::{Context, Result, anyhow};

/// CPU seconds and memory of one process at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Footprint {
    /// user + system CPU seconds since the process started.
    pub cpu_seconds: f64,
    /// Resident set size now, KiB.
    pub rss_kib: u64,
    /// Peak resident set size so far (VmHWM), KiB.
    pub peak_rss_kib: u64,
}

/// Clock ticks per second, for /proc/PID/stat (`getconf CLK_TCK`; Linux fixes it at 100).
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// Reads the footprint of `pid`.
pub fn footprint(pid: u32, ticks: f64) -> Result<Footprint> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name (field 2) may contain spaces; fields after the last ')' are fixed.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow!("unexpected /proc/{pid}/stat: {stat}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14 and stime field 15.
    let tick = |i: usize| -> Result<f64> {
        fields
            .get(i - 3)
            .ok_or_else(|| anyhow!("short /proc/{pid}/stat"))?
            .parse::<f64>()
            .context("parsing /proc/PID/stat")
    };
    let cpu_seconds = (tick(14)? + tick(15)?) / ticks;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Ok(Footprint {
        cpu_seconds,
        rss_kib: kib("VmRSS:"),
        peak_rss_kib: kib("VmHWM:"),
    })
}
