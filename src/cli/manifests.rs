//! Reading `SecurityProfile`, `CustomMetric` and `Dimension` manifests from files and folders of
//! YAML, one result per document so that one bad document does not hide the others.

use crate::api::{CustomMetric, Dimension, SecurityProfile};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A resource of one of the operator's kinds.
#[derive(Clone, Debug)]
pub enum Manifest {
    Profile(Box<SecurityProfile>),
    CustomMetric(Box<CustomMetric>),
    Dimension(Box<Dimension>),
}

/// A document of a manifest file: the resource, or why it is not a valid one.
pub struct Document {
    /// `FILE` or `FILE#N` (the N-th document, from 1) when the file holds several.
    pub source: String,
    pub resource: Result<Manifest, String>,
}

/// An unreadable file or folder (an error of the command, not of a manifest).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ReadError {
    pub path: String,
    pub message: String,
}

fn files(path: &Path) -> Result<Vec<PathBuf>, ReadError> {
    let err = |e: std::io::Error| ReadError {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Every document of the operator's kinds under `paths` (files, or folders of `*.yaml`/`*.yml`).
/// Documents of other kinds are skipped with a note on stderr.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Document>, ReadError> {
    let mut out = Vec::new();
    for path in paths {
        for file in files(path)? {
            let text = std::fs::read_to_string(&file).map_err(|e| ReadError {
                path: file.display().to_string(),
                message: e.to_string(),
            })?;
            let values = parse_stream(&text).map_err(|message| ReadError {
                path: file.display().to_string(),
                message,
            })?;
            let several = values.len() > 1;
            for (i, value) in values.into_iter().enumerate() {
                let source = match several {
                    true => format!("{}#{}", file.display(), i + 1),
                    false => file.display().to_string(),
                };
                if let Some(resource) = resource(&source, value) {
                    out.push(Document { source, resource });
                }
            }
        }
    }
    Ok(out)
}

/// The non-empty documents of a YAML stream.
fn parse_stream(text: &str) -> Result<Vec<serde_json::Value>, String> {
    let mut values = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let value = serde_json::Value::deserialize(doc).map_err(|e| e.to_string())?;
        if !value.is_null() {
            values.push(value);
        }
    }
    Ok(values)
}

/// The resource of a document; `None` (with a note) for another kind.
fn resource(source: &str, value: serde_json::Value) -> Option<Result<Manifest, String>> {
    let text = |k: &str| {
        value
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let (kind, api_version) = (text("kind"), text("apiVersion"));
    if !api_version.starts_with("iot.awscc.io/") {
        eprintln!("{source}: skipping {api_version} {kind} (not a kind of this operator)");
        return None;
    }
    let invalid = |e: serde_json::Error| format!("not a valid {kind}: {e}");
    Some(match kind.as_str() {
        "SecurityProfile" => serde_json::from_value(value)
            .map(|r| Manifest::Profile(Box::new(r)))
            .map_err(invalid),
        "CustomMetric" => serde_json::from_value(value)
            .map(|r| Manifest::CustomMetric(Box::new(r)))
            .map_err(invalid),
        "Dimension" => serde_json::from_value(value)
            .map(|r| Manifest::Dimension(Box::new(r)))
            .map_err(invalid),
        _ => {
            eprintln!("{source}: skipping {api_version} {kind} (not a kind of this operator)");
            return None;
        }
    })
}
