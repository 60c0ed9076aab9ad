//! Prometheus metrics: the running build, reconciles by result, reconcile duration, AWS calls by
//! operation and outcome, resources by condition, drift corrections, the resync schedule and
//! dropped events.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
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
    /// Each resource's (Ready, Synced) status, from which `resources` is computed.
    conditions: Mutex<HashMap<String, (&'static str, &'static str)>>,
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
            conditions: Mutex::new(HashMap::new()),
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

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
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
