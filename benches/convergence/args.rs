//! The bench's command line (`cargo bench --bench convergence -- [flags]`).

use clap::Parser;
use securityprofile_operator::config::parse_duration;
use std::path::PathBuf;
use std::time::Duration;

/// Convergence, steady state, update wave and deletion of N SecurityProfiles against an
/// emulator with per-operation AWS quotas.
#[derive(Parser, Debug, Clone)]
#[command(name = "convergence")]
pub struct BenchArgs {
    /// Number of SecurityProfile resources.
    #[arg(long, default_value_t = 1000)]
    pub resources: usize,

    /// Emulator quota: calls per second for EACH AWS operation (one token bucket per operation).
    #[arg(long, default_value_t = 50.0)]
    pub tps: f64,

    /// The operator's --resync-period; the steady-state phase lasts about 1.1 times this.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub resync: Duration,

    /// The operator's --concurrency (reconciles at once); its own default is 8.
    #[arg(long, default_value_t = 8)]
    pub concurrency: u16,

    /// Parallel Kubernetes writes used by the bench to apply, change and delete resources.
    #[arg(long, default_value_t = 32)]
    pub apply_parallelism: usize,

    /// Where to write the JSON results.
    #[arg(long, default_value = "target/benchmark.json")]
    pub json: PathBuf,

    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    pub bench: bool,
}
