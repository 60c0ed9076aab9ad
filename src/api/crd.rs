//! The CustomResourceDefinition, generated from the Rust types (the source of `crds/` and the
//! chart's CRD).

use super::SecurityProfile;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::Value;

/// Errors generating the CRD.
#[derive(Debug, thiserror::Error)]
pub enum CrdError {
    #[error("CRD does not round-trip through JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("CRD does not serialize to YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
}

/// The CRD object.
pub fn crd() -> Result<CustomResourceDefinition, CrdError> {
    let mut value = serde_json::to_value(SecurityProfile::crd())?;
    tidy_schema(&mut value);
    Ok(serde_json::from_value(value)?)
}

/// The CRD as YAML, exactly as `crds/` holds it.
pub fn crd_yaml() -> Result<String, CrdError> {
    Ok(serde_yaml_ng::to_string(&crd()?)?)
}

/// Optional fields are omitted, never null: drop schemars' `nullable: true` and `null` enum
/// members (the API server then prunes explicit nulls, as it does for built-in kinds).
fn tidy_schema(node: &mut Value) {
    match node {
        Value::Object(map) => {
            map.remove("nullable");
            if let Some(Value::Array(members)) = map.get_mut("enum") {
                members.retain(|m| !m.is_null());
            }
            map.values_mut().for_each(tidy_schema);
        }
        Value::Array(items) => items.iter_mut().for_each(tidy_schema),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn crds_folder_is_generated_from_the_types() {
        let committed = include_str!("../../crds/iot.awscc.io_securityprofiles.yaml");
        let generated = super::crd_yaml().unwrap();
        assert!(
            committed == generated,
            "crds/ is stale: run `cargo run -- crd > crds/iot.awscc.io_securityprofiles.yaml`"
        );
    }
}
