//! Benchmark: N SecurityProfiles against AWS IoT's per-operation quotas.
//!
//! kube-sandbox and the IoT emulator (one token bucket per operation) run in this process; the
//! operator's `run` runs as a separate process. Phases: convergence, steady state (one resync),
//! edits, creations and deletions under saturated resyncs, update wave, deletion; then the
//! operator's peak RSS and CPU. Prints a table, writes JSON,
//! and exits non-zero when something does not converge or a profile is left in the emulator.
//!
//! `cargo bench --bench convergence -- --resources 1000 [--tps 50] --resync 60s
//! [--report-violations] --json PATH`

#[path = "convergence/args.rs"]
mod args;
#[path = "convergence/calls.rs"]
mod calls;
#[path = "convergence/phases.rs"]
mod phases;
#[path = "convergence/procfs.rs"]
mod procfs;
#[path = "convergence/report.rs"]
mod report;
#[path = "convergence/tracker.rs"]
mod tracker;
#[path = "convergence/world.rs"]
mod world;

use anyhow::Result;
use args::BenchArgs;
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = BenchArgs::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every phase; Ok(false) when one of them failed.
async fn run(args: BenchArgs) -> Result<bool> {
    if args.tps.is_some_and(|t| !(t > 0.0 && t.is_finite())) || args.resources == 0 {
        anyhow::bail!("--tps must be a positive number and --resources at least 1");
    }
    if 2 * args.edits > args.resources {
        anyhow::bail!(
            "--edits must be at most half of --resources (edits and deletions are apart)"
        );
    }
    let dir = args
        .json
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| ".".into());
    let mut world = world::World::start(&args, &dir).await?;
    let tracker = tracker::Tracker::start(world.api());
    let baseline = world.footprint()?;
    report::header(&args);
    let attach = args.quota("AttachSecurityProfile");
    if attach * args.resync.as_secs_f64() < 2.0 * args.resources as f64 {
        println!(
            "(note: resyncs start before convergence can finish at the quota; they use at most the operator's --resync-budget of each read quota)"
        );
    }

    let mut phases = Vec::new();
    let mut failures = Vec::new();
    // Each phase starts from the previous one's end state; a phase that leaves resources
    // unconverged stops the run (the steady state only reports).
    world.check_operator()?;
    let mut live: Vec<usize> = (0..args.resources).collect();
    let p = phases::convergence(&args, &world, &tracker).await?;
    if record(&args, p, &mut phases, &mut failures) {
        if args.report_violations {
            world.raise_violations(&live)?;
        }
        world.check_operator()?;
        let p = phases::steady_state(&args, &world, &tracker).await?;
        record(&args, p, &mut phases, &mut failures);
        let mut ok = true;
        if args.edits > 0 {
            world.check_operator()?;
            let p = phases::edits_under_resyncs(&args, &world, &tracker, &mut live).await?;
            ok = record(&args, p, &mut phases, &mut failures);
        }
        if ok && !args.skip_waves {
            world.check_operator()?;
            let p = phases::update_wave(&args, &world, &tracker, &live).await?;
            if record(&args, p, &mut phases, &mut failures) {
                world.check_operator()?;
                let p = phases::deletion(&args, &world, &tracker, &live).await?;
                record(&args, p, &mut phases, &mut failures);
            }
        }
    }
    world.check_operator()?;
    let end = world.footprint()?;
    report::operations(&args, &phases);
    if let Some(p) = phases.iter().find(|p| p.name == "steady state") {
        report::steady_state(p);
    }
    if let Some(p) = phases.iter().find(|p| p.name == "edits under resyncs") {
        report::edits(p);
    }
    report::footprint(&args, &baseline, &end);

    let doc = report::json(&args, &phases, &baseline, &end, &failures);
    std::fs::write(&args.json, serde_json::to_string_pretty(&doc)?)?;
    println!();
    println!("results: {}", args.json.display());
    println!("operator log: {}", world.operator_log.display());
    for f in &failures {
        eprintln!("FAILED {f}");
    }
    let _ = world.operator.kill().await;
    Ok(failures.is_empty())
}

/// Prints and keeps a phase; false when it failed.
fn record(
    args: &BenchArgs,
    phase: phases::Phase,
    phases: &mut Vec<phases::Phase>,
    failures: &mut Vec<String>,
) -> bool {
    report::row(args, &phase);
    let ok = phase.failure.is_none();
    if let Some(f) = &phase.failure {
        failures.push(format!("{}: {f}", phase.name));
    }
    phases.push(phase);
    ok
}
