//! OpenAPI v3 documents (`/openapi/v3` and one per group version): CRD versions with their
//! schemas, built-in kinds with a permissive schema carrying `x-kubernetes-group-version-kind`,
//! enough for `kubectl explain`, kubectl's client-side validation and helm's.

use crate::registry::{Registry, ResourceType};
use serde_json::{Value, json};
use std::hash::{Hash, Hasher};

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

fn meta_schema() -> Value {
    let s = |d: &str| json!({"type": "string", "description": d});
    let map = |d: &str| json!({"type": "object", "description": d, "additionalProperties": {"type": "string", "default": ""}});
    json!({
        "type": "object",
        "description": "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.",
        "properties": {
            "annotations": map("Annotations is an unstructured key value map stored with a resource that may be set by external tools to store and retrieve arbitrary metadata."),
            "creationTimestamp": {"type": "string", "format": "date-time", "description": "CreationTimestamp is a timestamp representing the server time when this object was created."},
            "deletionGracePeriodSeconds": {"type": "integer", "format": "int64", "description": "Number of seconds allowed for this object to gracefully terminate."},
            "deletionTimestamp": {"type": "string", "format": "date-time", "description": "DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted."},
            "finalizers": {"type": "array", "items": {"type": "string", "default": ""}, "description": "Must be empty before the object is deleted from the registry.", "x-kubernetes-list-type": "set"},
            "generateName": s("GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided."),
            "generation": {"type": "integer", "format": "int64", "description": "A sequence number representing a specific generation of the desired state."},
            "labels": map("Map of string keys and values that can be used to organize and categorize (scope and select) objects."),
            "managedFields": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}, "description": "ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow."},
            "name": s("Name must be unique within a namespace."),
            "namespace": s("Namespace defines the space within which each name must be unique."),
            "ownerReferences": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}, "description": "List of objects depended by this object."},
            "resourceVersion": s("An opaque value that represents the internal version of this object."),
            "selfLink": s("Deprecated: selfLink is a legacy read-only field that is no longer populated by the system."),
            "uid": s("UID is the unique in time and space value for this object."),
        }
    })
}

fn top_level(rt: &ResourceType, mut schema: Value) -> Value {
    if !schema.is_object() {
        schema = json!({"type": "object"});
    }
    let props = &mut schema["properties"];
    if !props.is_object() {
        *props = json!({});
    }
    props["apiVersion"] = json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."});
    props["kind"] = json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."});
    props["metadata"] = json!({"allOf": [{"$ref": format!("#/components/schemas/{OBJECT_META}")}], "default": {}, "description": "Standard object's metadata."});
    schema["x-kubernetes-group-version-kind"] =
        json!([{"group": rt.group, "kind": rt.kind, "version": rt.version}]);
    schema
}

/// The components name of a kind (`io.k8s.api.apps.v1.Deployment`, `io.sandbox.test.v1.Widget`).
fn schema_name(rt: &ResourceType) -> String {
    if rt.custom {
        let reversed: Vec<&str> = rt.group.split('.').rev().collect();
        format!("{}.{}.{}", reversed.join("."), rt.version, rt.kind)
    } else if rt.group == "apiextensions.k8s.io" {
        format!(
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{}.{}",
            rt.version, rt.kind
        )
    } else {
        let short = if rt.group.is_empty() {
            "core"
        } else {
            rt.group.split('.').next().unwrap_or("core")
        };
        format!("io.k8s.api.{short}.{}.{}", rt.version, rt.kind)
    }
}

fn kind_schema(rt: &ResourceType) -> Value {
    match (&rt.schema, rt.custom) {
        (Some(s), true) => top_level(rt, s.clone()),
        (None, true) => top_level(
            rt,
            json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        ),
        _ => top_level(
            rt,
            json!({
                "type": "object",
                "description": format!("{} ({}), stored as-is by kube-sandbox.", rt.kind, rt.api_version()),
                "x-kubernetes-preserve-unknown-fields": true,
            }),
        ),
    }
}

/// The document of one group version, or None when nothing is served there.
pub fn group_version(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let types = reg.resources_of(group, version);
    if types.is_empty() {
        return None;
    }
    let mut schemas = serde_json::Map::new();
    let mut paths = serde_json::Map::new();
    schemas.insert(OBJECT_META.to_string(), meta_schema());
    for rt in &types {
        schemas.insert(schema_name(rt), kind_schema(rt));
        paths.insert(item_path(rt), item_operations(rt));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.34.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

fn item_path(rt: &ResourceType) -> String {
    let prefix = if rt.group.is_empty() {
        format!("/api/{}", rt.version)
    } else {
        format!("/apis/{}/{}", rt.group, rt.version)
    };
    if rt.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", rt.plural)
    } else {
        format!("{prefix}/{}/{{name}}", rt.plural)
    }
}

/// The item's operations; kubectl reads the PATCH parameters to learn that the server does
/// field validation and dry runs itself.
fn item_operations(rt: &ResourceType) -> Value {
    let gvk = json!({"group": rt.group, "version": rt.version, "kind": rt.kind});
    let param = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}});
    let ok = json!({"200": {"description": "OK", "content": {"application/json": {"schema": {
        "$ref": format!("#/components/schemas/{}", schema_name(rt))}}}}});
    let op = |action: &str, params: Vec<Value>| {
        json!({
            "operationId": format!("{action}{}", rt.kind),
            "parameters": params,
            "responses": ok,
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
        })
    };
    let writes = || {
        vec![
            param("dryRun"),
            param("fieldManager"),
            param("fieldValidation"),
        ]
    };
    let mut patch_params = writes();
    patch_params.push(param("force"));
    json!({
        "get": op("get", vec![]),
        "put": op("put", writes()),
        "patch": op("patch", patch_params),
        "delete": op("delete", vec![param("dryRun")]),
    })
}

fn hash(v: &Value) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.to_string().hash(&mut h);
    format!("{:016X}", h.finish())
}

/// `/openapi/v3`: one entry per group version, with a content hash so clients refetch on change.
pub fn root(reg: &Registry) -> Value {
    let mut paths = serde_json::Map::new();
    let mut gvs = vec![(String::new(), "v1".to_string())];
    for g in reg.groups() {
        for v in g.versions {
            gvs.push((g.name.clone(), v));
        }
    }
    for (g, v) in gvs {
        let Some(doc) = group_version(reg, &g, &v) else {
            continue;
        };
        let key = if g.is_empty() {
            format!("api/{v}")
        } else {
            format!("apis/{g}/{v}")
        };
        paths.insert(
            key.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", hash(&doc))}),
        );
    }
    json!({"paths": paths})
}
