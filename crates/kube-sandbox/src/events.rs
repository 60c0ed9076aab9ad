//! `events.k8s.io/v1` Events share storage with core `v1` Events, as in kube-apiserver: they are
//! stored in the core shape and converted on the way in and out, so events published through
//! either API (kube-rs `Recorder` uses events.k8s.io) show up in `kubectl describe`.

use crate::registry::ResourceType;
use serde_json::{Value, json};

/// (events.k8s.io/v1 name, core/v1 name) for the fields whose names differ.
const RENAMES: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

pub fn is_events_v1(rt: &ResourceType) -> bool {
    rt.group == "events.k8s.io" && rt.plural == "events"
}

fn rename(obj: &Value, to_core: bool, api_version: &str) -> Value {
    let mut out = obj.clone();
    if let Some(m) = out.as_object_mut() {
        for (new, old) in RENAMES {
            let (from, to) = if to_core { (new, old) } else { (old, new) };
            if let Some(v) = m.remove(*from) {
                m.insert((*to).to_string(), v);
            }
        }
        m.insert("apiVersion".into(), json!(api_version));
        m.insert("kind".into(), json!("Event"));
    }
    out
}

/// An events.k8s.io/v1 Event in the core/v1 shape (for storage).
pub fn to_core(obj: &Value) -> Value {
    rename(obj, true, "v1")
}

/// A stored core/v1 Event in the events.k8s.io/v1 shape.
pub fn from_core(obj: &Value) -> Value {
    rename(obj, false, "events.k8s.io/v1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_between_shapes() {
        let e = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "x"},
                       "regarding": {"kind": "Widget", "name": "w"}, "note": "hello",
                       "reason": "Created", "type": "Normal", "reportingController": "op"});
        let core = to_core(&e);
        assert_eq!(core["involvedObject"]["name"], "w");
        assert_eq!(core["message"], "hello");
        assert_eq!(core["reportingComponent"], "op");
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(from_core(&core), e);
    }
}
