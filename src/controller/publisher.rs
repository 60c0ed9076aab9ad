//! A bounded event publisher: reconciles hand events to a channel of fixed size and one task
//! writes them, folding repeats of the same reason and message for the same object into a
//! series (count and last time) kept for a small number of recent series only.
//!
//! kube-runtime's `Recorder` keeps every event it published for six minutes to fold repeats,
//! which at thousands of resources is most of the operator's memory; here the memory is
//! bounded whatever the number of resources, and an event that finds the channel full is
//! dropped and counted (`events_dropped`) rather than slowing reconciles down.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::EventType;
use prometheus_client::metrics::counter::Counter;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use tokio::sync::mpsc;
use tracing::warn;

/// Events waiting to be written.
const CHANNEL: usize = 1024;
/// Recent series remembered to fold repeats.
const SERIES: usize = 512;
/// A repeat later than this starts a new event.
const SERIES_TTL: SignedDuration = SignedDuration::from_mins(6);

/// One event to write.
struct Note {
    regarding: ObjectReference,
    type_: EventType,
    reason: String,
    note: String,
}

/// Who writes the events.
#[derive(Clone, Debug)]
pub struct Reporter {
    pub controller: String,
    pub instance: Option<String>,
}

/// Hands events to the writing task.
#[derive(Clone)]
pub struct Publisher {
    tx: mpsc::Sender<Note>,
    dropped: Counter,
}

impl Publisher {
    /// Starts the writing task (on the current Tokio runtime).
    pub fn start(client: Client, reporter: Reporter, dropped: Counter) -> Publisher {
        let (tx, rx) = mpsc::channel(CHANNEL);
        tokio::spawn(write_all(client, reporter, rx));
        Publisher { tx, dropped }
    }

    /// Queues an event about `regarding`; drops it (counted) when the queue is full.
    pub fn publish(&self, regarding: ObjectReference, type_: EventType, reason: &str, note: &str) {
        let note = Note {
            regarding,
            type_,
            reason: reason.to_string(),
            note: note.to_string(),
        };
        if self.tx.try_send(note).is_err() {
            self.dropped.inc();
        }
    }
}

/// A series of repeats: the event written first, how often it happened, and when last.
struct Series {
    name: String,
    namespace: String,
    count: i32,
    last: Timestamp,
    used: u64,
}

/// The most recently used series, at most [`SERIES`].
#[derive(Default)]
struct Recent {
    series: HashMap<u64, Series>,
    tick: u64,
}

impl Recent {
    /// The series this note continues, if it is still remembered and recent.
    fn repeat(&mut self, key: u64, now: Timestamp) -> Option<&mut Series> {
        self.tick += 1;
        let tick = self.tick;
        let s = self.series.get_mut(&key)?;
        if s.last + SERIES_TTL < now {
            return None;
        }
        s.used = tick;
        Some(s)
    }

    fn insert(&mut self, key: u64, series: Series) {
        if self.series.len() >= SERIES && !self.series.contains_key(&key) {
            let oldest = self
                .series
                .iter()
                .min_by_key(|(_, s)| s.used)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.series.remove(&k);
            }
        }
        self.series.insert(
            key,
            Series {
                used: self.tick,
                ..series
            },
        );
    }
}

fn series_key(n: &Note) -> u64 {
    let mut h = DefaultHasher::new();
    (&n.regarding.uid, &n.regarding.namespace, &n.regarding.name).hash(&mut h);
    (&n.reason, &n.note, n.type_ == EventType::Warning).hash(&mut h);
    h.finish()
}

async fn write_all(client: Client, reporter: Reporter, mut rx: mpsc::Receiver<Note>) {
    let mut recent = Recent::default();
    while let Some(note) = rx.recv().await {
        if let Err(e) = write(&client, &reporter, &mut recent, note).await {
            warn!(error = %e, "could not publish event");
        }
    }
}

async fn write(
    client: &Client,
    reporter: &Reporter,
    recent: &mut Recent,
    note: Note,
) -> Result<(), kube::Error> {
    let now = Timestamp::now();
    let key = series_key(&note);
    if let Some(s) = recent.repeat(key, now) {
        s.count += 1;
        s.last = now;
        let events: Api<K8sEvent> = Api::namespaced(client.clone(), &s.namespace);
        let patch = serde_json::json!({
            "series": EventSeries { count: s.count, last_observed_time: MicroTime(now) }
        });
        let name = s.name.clone();
        return events
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ());
    }
    let namespace = note
        .regarding
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_string());
    let name = format!(
        "{}.{:x}",
        note.regarding
            .name
            .as_deref()
            .unwrap_or(&reporter.controller),
        now.as_nanosecond()
    );
    let event = K8sEvent {
        action: Some("Reconcile".to_string()),
        reason: Some(note.reason),
        note: Some(note.note),
        type_: Some(match note.type_ {
            EventType::Normal => "Normal".to_string(),
            EventType::Warning => "Warning".to_string(),
        }),
        event_time: Some(MicroTime(now)),
        regarding: Some(note.regarding),
        reporting_controller: Some(reporter.controller.clone()),
        reporting_instance: Some(
            reporter
                .instance
                .clone()
                .unwrap_or_else(|| reporter.controller.clone()),
        ),
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    let events: Api<K8sEvent> = Api::namespaced(client.clone(), &namespace);
    events.create(&PostParams::default(), &event).await?;
    recent.insert(
        key,
        Series {
            name,
            namespace,
            count: 1,
            last: now,
            used: 0,
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, last: Timestamp) -> Series {
        Series {
            name: name.into(),
            namespace: "ns".into(),
            count: 1,
            last,
            used: 0,
        }
    }

    #[test]
    fn repeats_fold_while_recent_and_remembered() {
        let now = Timestamp::now();
        let mut r = Recent::default();
        r.insert(1, series("a", now));
        assert_eq!(r.repeat(1, now).map(|s| s.name.clone()), Some("a".into()));
        // Older than the TTL: a new event.
        assert!(r.repeat(1, now + SignedDuration::from_mins(7)).is_none());
        assert!(r.repeat(2, now).is_none());
    }

    #[test]
    fn memory_is_bounded_least_recently_used_go_first() {
        let now = Timestamp::now();
        let mut r = Recent::default();
        for k in 0..SERIES as u64 {
            r.insert(k, series("x", now));
            r.tick += 1;
        }
        // Using series 0 keeps it; series 1 is now the least recently used.
        assert!(r.repeat(0, now).is_some());
        r.insert(10_000, series("new", now));
        assert_eq!(r.series.len(), SERIES);
        assert!(r.series.contains_key(&0));
        assert!(!r.series.contains_key(&1));
    }
}
