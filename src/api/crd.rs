//! The CustomResourceDefinitions, generated from the Rust types (the source of `crds/` and the
//! chart's CRDs).

use super::{CustomMetric, Dimension, SecurityProfile};
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

/// The SecurityProfile CRD object.
pub fn crd() -> Result<CustomResourceDefinition, CrdError> {
    tidy(SecurityProfile::crd())
}

/// The SecurityProfile CRD as YAML, exactly as `crds/` holds it.
pub fn crd_yaml() -> Result<String, CrdError> {
    Ok(serde_yaml_ng::to_string(&crd()?)?)
}

/// Every CRD of the operator with the file name `crds/` holds it under: SecurityProfile,
/// CustomMetric, Dimension.
pub fn crds() -> Result<Vec<(&'static str, CustomResourceDefinition)>, CrdError> {
    Ok(vec![
        ("iot.awscc.io_securityprofiles.yaml", crd()?),
        (
            "iot.awscc.io_custommetrics.yaml",
            tidy(CustomMetric::crd())?,
        ),
        ("iot.awscc.io_dimensions.yaml", tidy(Dimension::crd())?),
    ])
}

/// Every CRD as one multi-document YAML stream (what the `crd` command prints).
pub fn crds_yaml() -> Result<String, CrdError> {
    let mut out = String::new();
    for (_, crd) in crds()? {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(&crd)?);
    }
    Ok(out)
}

fn tidy(crd: CustomResourceDefinition) -> Result<CustomResourceDefinition, CrdError> {
    let mut value = serde_json::to_value(crd)?;
    tidy_schema(&mut value);
    Ok(serde_json::from_value(value)?)
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
        let committed = [
            include_str!("../../crds/iot.awscc.io_securityprofiles.yaml"),
            include_str!("../../crds/iot.awscc.io_custommetrics.yaml"),
            include_str!("../../crds/iot.awscc.io_dimensions.yaml"),
        ];
        let generated = super::crds().unwrap();
        assert_eq!(generated.len(), committed.len());
        for ((file, crd), committed) in generated.iter().zip(committed) {
            let generated = serde_yaml_ng::to_string(crd).unwrap();
            assert!(
                committed == generated,
                "crds/{file} is stale: run `cargo run -- crd --out-dir crds/ && cp crds/*.yaml charts/securityprofile-operator/files/`"
            );
        }
    }

    #[test]
    fn crd_command_prints_every_kind() {
        let yaml = super::crds_yaml().unwrap();
        let kinds: Vec<String> = serde_yaml_ng::Deserializer::from_str(&yaml)
            .map(|d| {
                let v = <serde_json::Value as serde::Deserialize>::deserialize(d).unwrap();
                v["spec"]["names"]["kind"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(kinds, ["SecurityProfile", "CustomMetric", "Dimension"]);
    }
}
