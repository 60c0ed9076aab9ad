//! Prometheus metrics: the running build, reconciles by result, reconcile duration, AWS calls by
//! operation and outcome, resources by condition, drift corrections, the resync schedule and
//! dropped events.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

/// The crate version this binary was built from.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The git revision this binary was built from (`unknown` when neither git nor the
/// `GIT_REVISION` build argument was available).
pub const GIT_REVISION: &str = env!("GIT_REVISION");
/// What `--version` prints after the program name: `0.1.0 (abc1234)`.
pub const VERSION_LINE: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("GIT_REVISION"), ")");

/// Labels of `build_info`: which build is running, to join with the other series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    pub version: String,
    pub revision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AwsCallLabels {
    pub operation: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatchErrorLabels {
    pub kind: String,
    pub reason: String,
}

/// Labels of `securityprofile_active_violations`: bounded by the resources and their behaviors
/// (never a thing name).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ViolationLabels {
    pub namespace: String,
    pub name: String,
    pub behavior: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConditionLabels {
    pub condition: String,
    pub status: String,
}

/// All metrics of the operator, registered in one registry.
pub struct Metrics {
    pub registry: Registry,
    pub reconciles: Family<ResultLabels, Counter>,
    pub reconcile_duration: Histogram,
    pub aws_calls: Family<AwsCallLabels, Counter>,
    pub resources: Family<ConditionLabels, Gauge>,
    pub drift_corrections: Counter,
    /// The resync period kept, which the resync budget may stretch beyond `--resync-period`.
    pub resync_effective_period: Gauge<f64, AtomicU64>,
    /// Resyncs due but waiting for the resync budget.
    pub resync_backlog: Gauge,
    /// Events not written because the publisher's queue was full.
    pub events_dropped: Counter,
    /// Failed lists and watches of the Kubernetes API, by kind and the server's reason.
    pub watch_errors: Family<WatchErrorLabels, Counter>,
    /// The period at which each reporting resource's violations are read (the resync budget
    /// may stretch it beyond the resync period).
    pub violations_effective_period: Gauge<f64, AtomicU64>,
    /// Each resource's (Ready, Synced) status, from which `resources` is computed.
    conditions: Mutex<HashMap<String, (&'static str, &'static str)>>,
    /// The fleet's own series (`securityprofile_*`, not the operator's): active violations.
    fleet: Registry,
    active_violations: Family<ViolationLabels, Gauge>,
    /// The behaviors each resource has a violations series for, to prune the ones that go.
    violation_series: Mutex<HashMap<String, Vec<String>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("securityprofile_operator");
        let reconciles = Family::<ResultLabels, Counter>::default();
        let reconcile_duration = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        let aws_calls = Family::<AwsCallLabels, Counter>::default();
        let resources = Family::<ConditionLabels, Gauge>::default();
        let drift_corrections = Counter::default();
        let resync_effective_period = Gauge::<f64, AtomicU64>::default();
        let resync_backlog = Gauge::default();
        let events_dropped = Counter::default();
        let watch_errors = Family::<WatchErrorLabels, Counter>::default();
        let violations_effective_period = Gauge::<f64, AtomicU64>::default();
        let active_violations = Family::<ViolationLabels, Gauge>::default();
        let mut fleet = Registry::with_prefix("securityprofile");
        fleet.register(
            "active_violations",
            "Active Device Defender violations per profile and behavior (profiles that report violations)",
            active_violations.clone(),
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: VERSION.to_string(),
                revision: GIT_REVISION.to_string(),
            })
            .set(1);
        registry.register(
            "build_info",
            "The running build: always 1, with the version and git revision as labels",
            build_info,
        );
        registry.register("reconciles", "Reconciles by result", reconciles.clone());
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one reconcile",
            reconcile_duration.clone(),
        );
        registry.register(
            "aws_calls",
            "AWS API calls by operation and outcome",
            aws_calls.clone(),
        );
        registry.register(
            "resources",
            "Resources by condition and status",
            resources.clone(),
        );
        registry.register(
            "drift_corrections",
            "Differences found in AWS on resync and corrected",
            drift_corrections.clone(),
        );
        registry.register(
            "resync_effective_period_seconds",
            "Resync period kept within the resync budget (at least --resync-period)",
            resync_effective_period.clone(),
        );
        registry.register(
            "resync_backlog",
            "Resyncs due but waiting for the resync budget",
            resync_backlog.clone(),
        );
        registry.register(
            "events_dropped",
            "Events not written because the event queue was full",
            events_dropped.clone(),
        );
        registry.register(
            "watch_errors",
            "Failed lists and watches of the Kubernetes API by kind and reason (Forbidden: the operator's RBAC; retried with backoff)",
            watch_errors.clone(),
        );
        registry.register(
            "violations_effective_period_seconds",
            "Period at which each profile's active violations are read, within the resync budget of ListActiveViolations (at least the resync period)",
            violations_effective_period.clone(),
        );
        Metrics {
            registry,
            reconciles,
            reconcile_duration,
            aws_calls,
            resources,
            drift_corrections,
            resync_effective_period,
            resync_backlog,
            events_dropped,
            watch_errors,
            violations_effective_period,
            conditions: Mutex::new(HashMap::new()),
            fleet,
            active_violations,
            violation_series: Mutex::new(HashMap::new()),
        }
    }
}

impl Metrics {
    pub fn watch_error(&self, kind: &str, reason: &str) {
        self.watch_errors
            .get_or_create(&WatchErrorLabels {
                kind: kind.to_string(),
                reason: reason.to_string(),
            })
            .inc();
    }

    pub fn aws_call(&self, operation: &str, outcome: &str) {
        self.aws_calls
            .get_or_create(&AwsCallLabels {
                operation: operation.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn reconciled(&self, result: &str, seconds: f64) {
        self.reconciles
            .get_or_create(&ResultLabels {
                result: result.to_string(),
            })
            .inc();
        self.reconcile_duration.observe(seconds);
    }

    /// Records a resource's conditions (`None` when it is gone) and moves the gauges by the
    /// difference, so the cost of a reconcile does not grow with the number of resources.
    pub fn set_conditions(&self, key: &str, ready_synced: Option<(String, String)>) {
        let Ok(mut map) = self.conditions.lock() else {
            return;
        };
        // Kept as static strings: no allocation per resource beyond its key.
        let ready_synced = ready_synced.map(|(r, s)| (condition_status(&r), condition_status(&s)));
        let previous = match ready_synced {
            Some(v) => map.insert(key.to_string(), v),
            None => map.remove(key),
        };
        if previous == ready_synced {
            return;
        }
        let gauge = |condition: &str, status: &str| {
            self.resources.get_or_create(&ConditionLabels {
                condition: condition.to_string(),
                status: status.to_string(),
            })
        };
        if let Some((ready, synced)) = previous {
            gauge("Ready", ready).dec();
            gauge("Synced", synced).dec();
        }
        if let Some((ready, synced)) = ready_synced {
            gauge("Ready", ready).inc();
            gauge("Synced", synced).inc();
        }
    }

    /// Sets a resource's (`namespace/name`) active violations per behavior, or removes its
    /// series (`None`: gone, or no longer reporting); a behavior no longer listed loses its
    /// series.
    pub fn set_violations(&self, key: &str, by_behavior: Option<&BTreeMap<String, i64>>) {
        let Ok(mut series) = self.violation_series.lock() else {
            return;
        };
        let (namespace, name) = key.split_once('/').unwrap_or(("", key));
        let labels = |behavior: &str| ViolationLabels {
            namespace: namespace.to_string(),
            name: name.to_string(),
            behavior: behavior.to_string(),
        };
        let now: Vec<String> = by_behavior
            .map(|b| b.keys().cloned().collect())
            .unwrap_or_default();
        for gone in series.get(key).into_iter().flatten() {
            if !now.contains(gone) {
                self.active_violations.remove(&labels(gone));
            }
        }
        for (behavior, n) in by_behavior.into_iter().flatten() {
            self.active_violations
                .get_or_create(&labels(behavior))
                .set(*n);
        }
        if now.is_empty() {
            series.remove(key);
        } else {
            series.insert(key.to_string(), now);
        }
    }

    /// The Prometheus text exposition: the operator's series, then the fleet's.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, &self.registry);
        let _ = prometheus_client::encoding::text::encode_registry(&mut out, &self.fleet);
        let _ = prometheus_client::encoding::text::encode_eof(&mut out);
        out
    }
}

/// A condition's status as one of the three Kubernetes allows (anything else is "Unknown").
fn condition_status(s: &str) -> &'static str {
    match s {
        "True" => "True",
        "False" => "False",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::Metrics;
    use std::collections::BTreeMap;

    #[test]
    fn build_info_names_the_version_and_revision() {
        let text = Metrics::default().encode();
        let line = format!(
            "securityprofile_operator_build_info{{version=\"{}\",revision=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            super::GIT_REVISION
        );
        assert!(text.contains(&line), "{text}");
        assert!(!super::GIT_REVISION.is_empty());
    }

    #[test]
    fn violation_series_follow_behaviors_and_resources() {
        let m = Metrics::default();
        let b = |pairs: &[(&str, i64)]| -> BTreeMap<String, i64> {
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        m.set_violations("ns/a", Some(&b(&[("msgs", 2), ("bytes", 0)])));
        m.set_violations("ns/c", Some(&b(&[("msgs", 1)])));
        let text = m.encode();
        assert!(
            text.contains(
                "securityprofile_active_violations{namespace=\"ns\",name=\"a\",behavior=\"msgs\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains("behavior=\"bytes\"} 0"), "{text}");
        assert_eq!(text.matches("# EOF").count(), 1, "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
        // A behavior goes, then a resource.
        m.set_violations("ns/a", Some(&b(&[("msgs", 0)])));
        m.set_violations("ns/c", None);
        let text = m.encode();
        assert!(!text.contains("behavior=\"bytes\""), "{text}");
        assert!(!text.contains("name=\"c\""), "{text}");
        assert!(text.contains("name=\"a\",behavior=\"msgs\"} 0"), "{text}");
    }

    #[test]
    fn resource_gauges_follow_each_resources_latest_conditions() {
        let m = Metrics::default();
        let t = |r: &str, s: &str| Some((r.to_string(), s.to_string()));
        m.set_conditions("a", t("True", "True"));
        m.set_conditions("b", t("False", "False"));
        m.set_conditions("b", t("True", "True"));
        m.set_conditions("c", t("False", "False"));
        m.set_conditions("c", None);
        let text = m.encode();
        assert!(
            text.contains(
                "securityprofile_operator_resources{condition=\"Ready\",status=\"True\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "securityprofile_operator_resources{condition=\"Ready\",status=\"False\"} 0"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "securityprofile_operator_resources{condition=\"Synced\",status=\"True\"} 2"
            ),
            "{text}"
        );
    }
}
