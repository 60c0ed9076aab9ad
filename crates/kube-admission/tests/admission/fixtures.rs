//! The operator's real SecurityProfile CRD and objects for it. The CRD is read from the
//! repository's `crds/` folder, which the operator's freshness test keeps byte-equal to the
//! output of `securityprofile-operator crd`, so these tests admit against exactly what users
//! install.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The repository root (this crate lives in `crates/kube-admission`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Parses every YAML document of a file (separated by `---` lines) into JSON values.
pub fn yaml_documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            docs.push(String::new());
        } else if let Some(doc) = docs.last_mut() {
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs.iter()
        .map(|doc| {
            serde_yaml_ng::from_str::<Value>(doc)
                .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// The generated CustomResourceDefinition, as `crds/iot.awscc.io_securityprofiles.yaml` holds it.
pub fn security_profile_crd() -> &'static Value {
    static CRD: OnceLock<Value> = OnceLock::new();
    CRD.get_or_init(|| {
        let path = repo_root().join("crds/iot.awscc.io_securityprofiles.yaml");
        let mut docs = yaml_documents(&path);
        assert_eq!(docs.len(), 1, "{} holds one CRD", path.display());
        docs.remove(0)
    })
}

/// The `openAPIV3Schema` of the CRD's `v1alpha1` version.
pub fn security_profile_schema() -> Value {
    let versions = security_profile_crd()["spec"]["versions"]
        .as_array()
        .expect("spec.versions");
    let v1alpha1 = versions
        .iter()
        .find(|v| v["name"] == "v1alpha1")
        .expect("the CRD serves v1alpha1");
    v1alpha1["schema"]["openAPIV3Schema"].clone()
}

/// A valid profile with one rule behavior, tags and targets.
pub fn security_profile() -> Value {
    json!({
        "apiVersion": "iot.awscc.io/v1alpha1",
        "kind": "SecurityProfile",
        "metadata": {"name": "sp1", "namespace": "default", "labels": {"a": "b"}},
        "spec": {
            "securityProfileName": "sp1",
            "region": "eu-west-1",
            "behaviors": [{
                "name": "msgs",
                "metric": "aws:num-messages-sent",
                "criteria": {
                    "comparisonOperator": "greater-than",
                    "value": {"count": 100},
                    "durationSeconds": 300,
                    "consecutiveDatapointsToAlarm": 1
                }
            }],
            "tags": [{"key": "team", "value": "iot"}],
            "targetArns": ["arn:aws:iot:eu-west-1:123456789012:all/registered-things"]
        }
    })
}

/// A valid ML Detect behavior.
pub fn ml_behavior(name: &str) -> Value {
    json!({
        "name": name,
        "metric": "aws:num-disconnects",
        "criteria": {"mlDetectionConfig": {"confidenceLevel": "HIGH"}}
    })
}
