//! The printed tables and the JSON document.

use crate::args::BenchArgs;
use crate::calls::round;
use crate::phases::Phase;
use crate::procfs::Footprint;
use serde_json::{Value, json};

pub fn header(args: &BenchArgs) {
    println!(
        "convergence bench: {} resources (2 targets, 2 tags each), {}, resync {:?}, operator --concurrency {}{}",
        args.resources,
        args.quotas_label(),
        args.resync,
        args.concurrency,
        if args.report_violations {
            " --report-violations (a violation on one resource in ten)"
        } else {
            ""
        }
    );
    println!();
    println!(
        "| phase | wall s | quota floor s (operation) | wall/floor | AWS calls/resource | AWS writes | throttled (AWS answers / Throttled events) | operator K8s writes (to SecurityProfiles) | operator CPU s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
}

pub fn row(args: &BenchArgs, p: &Phase) {
    let (floor, op) = p.calls.floor(|op| args.quota(op));
    // The steady state lasts a fixed window; a ratio to the floor means nothing there.
    let ratio = if floor > 0.0 && p.name != "steady state" {
        format!("{:.2}", p.wall_seconds / floor)
    } else {
        "-".into()
    };
    println!(
        "| {} | {:.1} | {:.1} ({}) | {} | {:.2} | {} | {} / {} | {} ({}) | {:.1} |{}",
        p.name,
        p.wall_seconds,
        floor,
        short(&op),
        ratio,
        p.calls.admitted() as f64 / args.resources.max(1) as f64,
        p.calls.writes(),
        p.calls.throttled(),
        p.throttled_events,
        p.k8s_writes,
        p.profile_writes,
        p.cpu_seconds,
        p.failure
            .as_ref()
            .map(|f| format!(" FAILED: {f}"))
            .unwrap_or_default()
    );
}

fn short(op: &str) -> String {
    op.replace("SecurityProfile", "")
}

/// Per-operation calls of every phase, per resource.
pub fn operations(args: &BenchArgs, phases: &[Phase]) {
    let mut ops: Vec<&String> = phases.iter().flat_map(|p| p.calls.0.keys()).collect();
    ops.sort();
    ops.dedup();
    println!();
    println!(
        "AWS calls per resource by operation (admitted by the quota; throttled answers in brackets):"
    );
    println!();
    let names: Vec<&str> = phases.iter().map(|p| p.name).collect();
    println!("| operation | {} |", names.join(" | "));
    println!("|---|{}", "---|".repeat(phases.len()));
    for op in ops {
        let cells: Vec<String> = phases
            .iter()
            .map(|p| match p.calls.0.get(op) {
                Some(c) if c.throttled > 0 => format!(
                    "{:.2} [{}]",
                    c.admitted() as f64 / args.resources.max(1) as f64,
                    c.throttled
                ),
                Some(c) => format!("{:.2}", c.admitted() as f64 / args.resources.max(1) as f64),
                None => "0".into(),
            })
            .collect();
        println!("| {op} | {} |", cells.join(" | "));
    }
}

pub fn steady_state(p: &Phase) {
    let e = &p.extra;
    println!();
    println!(
        "steady state: {} resyncs in {} s; per resync: {} AWS reads ({} ListActiveViolations), {} AWS writes, {} Kubernetes writes ({} to the SecurityProfile)",
        e["resyncsSeen"],
        e["windowSeconds"],
        e["awsReadsPerResync"],
        e["violationReadsPerResync"],
        e["awsWritesPerResync"],
        e["k8sWritesPerResync"],
        e["profileWritesPerResync"]
    );
}

pub fn edits(p: &Phase) {
    let e = &p.extra;
    println!();
    println!(
        "under saturated resyncs: {} edits one after another, worst {} s (median {} s) against a floor of {} s each; {} creations converged in {} s, {} deletions done in {} s; operator resync period {} s (violations {} s), backlog {} at the end",
        e["edits"],
        e["worstEditSeconds"],
        e["medianEditSeconds"],
        e["editFloorSeconds"],
        e["creations"],
        e["creationsSeconds"],
        e["deletions"],
        e["deletionsSeconds"],
        e["effectiveResyncSeconds"],
        e["effectiveViolationsSeconds"],
        e["resyncBacklog"]
    );
}

pub fn footprint(args: &BenchArgs, baseline: &Footprint, end: &Footprint) {
    let per_k = args.resources.max(1) as f64 / 1000.0;
    println!();
    println!(
        "operator footprint: peak RSS {:.1} MiB (idle at start {:.1} MiB; growth {:.1} MiB per 1,000 resources), CPU {:.1} s in all ({:.1} s per 1,000 resources)",
        end.peak_rss_kib as f64 / 1024.0,
        baseline.rss_kib as f64 / 1024.0,
        (end.peak_rss_kib.saturating_sub(baseline.rss_kib)) as f64 / 1024.0 / per_k,
        end.cpu_seconds,
        end.cpu_seconds / per_k
    );
}

pub fn json(
    args: &BenchArgs,
    phases: &[Phase],
    baseline: &Footprint,
    end: &Footprint,
    failures: &[String],
) -> Value {
    let per_k = args.resources.max(1) as f64 / 1000.0;
    let phases: Vec<Value> = phases
        .iter()
        .map(|p| {
            let (floor, op) = p.calls.floor(|op| args.quota(op));
            json!({
                "name": p.name,
                "wallSeconds": round(p.wall_seconds, 3),
                "quotaFloorSeconds": round(floor, 3),
                "quotaFloorOperation": op,
                "wallToFloor": if floor > 0.0 && p.name != "steady state" { json!(round(p.wall_seconds / floor, 3)) } else { Value::Null },
                "awsCallsPerResource": round(p.calls.admitted() as f64 / args.resources.max(1) as f64, 3),
                "awsReads": p.calls.reads(),
                "awsWrites": p.calls.writes(),
                "awsThrottled": p.calls.throttled(),
                "throttledEvents": p.throttled_events,
                "k8sWrites": p.k8s_writes,
                "securityProfileWrites": p.profile_writes,
                "operatorCpuSeconds": round(p.cpu_seconds, 3),
                "operations": p.calls.to_json(args.resources),
                "failure": p.failure,
                "details": p.extra,
            })
        })
        .collect();
    json!({
        "resources": args.resources,
        "tpsPerOperation": args.tps,
        "quotas": args.quotas_label(),
        "resyncSeconds": args.resync.as_secs_f64(),
        "concurrency": args.concurrency,
        "reportViolations": args.report_violations,
        "phases": phases,
        "operator": {
            "peakRssMiB": round(end.peak_rss_kib as f64 / 1024.0, 2),
            "startRssMiB": round(baseline.rss_kib as f64 / 1024.0, 2),
            "rssGrowthMiBPer1000Resources": round(end.peak_rss_kib.saturating_sub(baseline.rss_kib) as f64 / 1024.0 / per_k, 2),
            "cpuSeconds": round(end.cpu_seconds, 3),
            "cpuSecondsPer1000Resources": round(end.cpu_seconds / per_k, 3),
        },
        "failures": failures,
    })
}
