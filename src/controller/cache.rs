//! The profiles' cache, kept small: each resource as the compressed JSON of what reconciles
//! read, beside the few facts the runner schedules by.
//!
//! Decoded, a SecurityProfile with its status takes a few KiB in dozens of small allocations;
//! at 10,000 resources those were most of the operator's memory. Its JSON (about 1.5 KiB),
//! deflated (about 0.6 KiB: keys and ARNs repeat), is one allocation, and a reconcile inflates
//! and decodes its one object in microseconds.

use crate::api::SecurityProfile;
use crate::reconcile::{Dependency, dependencies, desired};
use kube::ResourceExt;
use miniz_oxide::deflate::compress_to_vec;
use miniz_oxide::inflate::decompress_to_vec;

/// Deflate's fastest level: higher ones gain a few percent on objects this small.
const LEVEL: u8 = 1;

/// One resource as last seen by its watch.
#[derive(Debug)]
pub(super) struct Cached {
    /// The object's JSON, deflated.
    packed: Box<[u8]>,
    /// The custom metrics and dimensions it names, which wake it when they become ready.
    needs: Box<[Dependency]>,
}

impl Cached {
    /// Keeps `sp` (already stripped by [`strip`]); `None` if it cannot be encoded.
    pub(super) fn new(sp: &SecurityProfile) -> Option<Cached> {
        let json = serde_json::to_vec(sp).ok()?;
        let packed = compress_to_vec(&json, LEVEL).into_boxed_slice();
        let needs = dependencies(&desired(sp, "", "").attributes)
            .into_iter()
            .collect();
        Some(Cached { packed, needs })
    }

    /// The resource, decoded again.
    pub(super) fn object(&self) -> Option<SecurityProfile> {
        let json = decompress_to_vec(&self.packed).ok()?;
        serde_json::from_slice(&json).ok()
    }

    /// Whether it names `dependency`.
    pub(super) fn needs(&self, dependency: &Dependency) -> bool {
        self.needs.contains(dependency)
    }
}

/// Drops what no reconcile reads: managedFields, kubectl's copy of the whole last applied
/// manifest, labels, owners, the creation time.
pub(super) fn strip(sp: &mut SecurityProfile) {
    sp.managed_fields_mut().clear();
    sp.annotations_mut()
        .remove("kubectl.kubernetes.io/last-applied-configuration");
    sp.labels_mut().clear();
    sp.metadata.owner_references = None;
    sp.metadata.creation_timestamp = None;
    sp.metadata.generate_name = None;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_cached_resource_decodes_to_what_was_kept_and_knows_its_dependencies() {
        let mut sp: SecurityProfile = serde_json::from_value(json!({
            "apiVersion": "iot.awscc.io/v1alpha1",
            "kind": "SecurityProfile",
            "metadata": {
                "name": "p", "namespace": "ns", "generation": 3,
                "labels": {"team": "a"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}",
                                "iot.awscc.io/paused": "true"},
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}]
            },
            "spec": {
                "behaviors": [{"name": "b", "metric": "m1",
                               "criteria": {"comparisonOperator": "greater-than", "value": {"count": 1},
                                            "durationSeconds": 300}}]
            },
            "status": {"observedGeneration": 3}
        }))
        .unwrap();
        strip(&mut sp);
        let cached = Cached::new(&sp).unwrap();
        assert!(cached.packed.len() < serde_json::to_vec(&sp).unwrap().len());
        let back = cached.object().unwrap();
        assert_eq!(back.metadata.generation, Some(3));
        assert!(back.labels().is_empty() && back.managed_fields().is_empty());
        assert_eq!(back.annotations().len(), 1, "{:?}", back.annotations());
        assert_eq!(back.spec, sp.spec);
        assert_eq!(back.status.and_then(|s| s.observed_generation), Some(3));
        assert!(cached.needs(&Dependency::CustomMetric("m1".into())));
        assert!(!cached.needs(&Dependency::CustomMetric("m2".into())));
    }
}
