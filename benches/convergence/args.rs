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

    /// A uniform quota: N calls per second for EACH AWS operation, in the emulator and the
    /// operator's `--aws-tps '*=N'`. Default: AWS's documented quotas per operation (10/s, and
    /// 25/s for DescribeSecurityProfile), which the operator also uses by default.
    #[arg(long)]
    pub tps: Option<f64>,

    /// Edits made one after another while resyncs use their budget (and as many creations and
    /// deletions meanwhile); 0 skips that phase.
    #[arg(long, default_value_t = 50)]
    pub edits: usize,

    /// Skip the update wave and the deletion of every resource (long at AWS's quotas).
    #[arg(long)]
    pub skip_waves: bool,

    /// The operator's --resync-period; the steady-state phase lasts about 1.1 times this.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub resync: Duration,

    /// The operator's --concurrency (reconciles at once); its own default is 8.
    #[arg(long, default_value_t = 8)]
    pub concurrency: u16,

    /// Run the operator with --report-violations (every profile's active violations read in
    /// the resync lane), and raise a violation on one resource in ten once they converged.
    #[arg(long)]
    pub report_violations: bool,

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

impl BenchArgs {
    /// The quota of `operation` in calls per second, in the emulator and the operator.
    pub fn quota(&self, operation: &str) -> f64 {
        self.tps.unwrap_or_else(|| {
            securityprofile_operator::aws::DOCUMENTED_QUOTAS
                .iter()
                .find(|(op, _)| *op == operation)
                .map(|(_, q)| *q)
                .unwrap_or(10.0)
        })
    }

    /// How the quotas are described in the report.
    pub fn quotas_label(&self) -> String {
        match self.tps {
            Some(t) => format!("{t} TPS per AWS operation"),
            None => "AWS's documented quotas (10 TPS, Describe 25 TPS)".to_string(),
        }
    }
}
