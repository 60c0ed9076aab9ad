//! The Argo CD health check, run under Lua 5.1 as Argo CD runs it.

use super::*;
use serde_json::json;

// ---------------------------------------------------------------- Argo CD health check

fn health(obj: Value) -> (String, String) {
    let script = std::fs::read_to_string(root().join("deploy/argocd/health.lua")).unwrap();
    // Argo CD opens only the base, package and table libraries (and a safe `os`) for health
    // scripts: no `string`, no `math`. A script that calls them works here under the full
    // library and fails in Argo CD, so the test opens exactly what Argo CD opens.
    let lua = mlua::Lua::new_with(
        mlua::StdLib::PACKAGE | mlua::StdLib::TABLE,
        mlua::LuaOptions::default(),
    )
    .unwrap();
    let version: String = lua.globals().get("_VERSION").unwrap();
    assert_eq!(version, "Lua 5.1", "Argo CD runs gopher-lua, a Lua 5.1");
    for absent in ["string", "math", "io", "debug"] {
        let lib: mlua::Value = lua.globals().get(absent).unwrap();
        assert!(lib.is_nil(), "{absent} must not be open, as in Argo CD");
    }
    lua.globals().set("obj", to_lua(&lua, &obj)).unwrap();
    let hs: mlua::Table = lua.load(&script).eval().expect("the script runs");
    (hs.get("status").unwrap(), hs.get("message").unwrap())
}

/// JSON to Lua as Argo CD hands objects to health scripts (objects and arrays become tables).
fn to_lua(lua: &mlua::Lua, v: &Value) -> mlua::Value {
    match v {
        Value::Null => mlua::Value::Nil,
        Value::Bool(b) => mlua::Value::Boolean(*b),
        Value::Number(n) => mlua::Value::Number(n.as_f64().unwrap()),
        Value::String(s) => mlua::Value::String(lua.create_string(s).unwrap()),
        Value::Array(items) => {
            let t = lua.create_table().unwrap();
            for (i, item) in items.iter().enumerate() {
                t.set(i + 1, to_lua(lua, item)).unwrap();
            }
            mlua::Value::Table(t)
        }
        Value::Object(map) => {
            let t = lua.create_table().unwrap();
            for (k, item) in map {
                t.set(k.as_str(), to_lua(lua, item)).unwrap();
            }
            mlua::Value::Table(t)
        }
    }
}

fn profile(generation: i64, status: Value) -> Value {
    json!({
        "apiVersion": "iot.awscc.io/v1alpha1",
        "kind": "SecurityProfile",
        "metadata": {"name": "web", "namespace": "team-a", "generation": generation},
        "spec": {},
        "status": status,
    })
}

fn conds(gen_: i64, ready: (&str, &str), synced: (&str, &str)) -> Value {
    json!({
        "observedGeneration": gen_,
        "conditions": [
            {"type": "Ready", "status": ready.0, "reason": ready.1, "message": format!("ready {}", ready.1)},
            {"type": "Synced", "status": synced.0, "reason": synced.1, "message": format!("synced {}", synced.1)},
        ]
    })
}

#[test]
fn argocd_health_maps_status_to_health() {
    let ok = ("True", "ReconcileSuccess");
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "no status",
            json!({"apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile", "metadata": {"name": "x", "generation": 1}, "spec": {}}),
            "Progressing",
        ),
        (
            "empty conditions",
            profile(1, json!({"conditions": []})),
            "Progressing",
        ),
        (
            "ready",
            profile(3, conds(3, ("True", "Available"), ok)),
            "Healthy",
        ),
        (
            "generation not reconciled",
            profile(4, conds(3, ("True", "Available"), ok)),
            "Progressing",
        ),
        (
            "no observedGeneration",
            profile(
                1,
                json!({"conditions": [{"type": "Ready", "status": "True", "reason": "Available"}]}),
            ),
            "Progressing",
        ),
        (
            "ready unknown",
            profile(1, conds(1, ("Unknown", "Creating"), ok)),
            "Progressing",
        ),
        (
            "throttled",
            profile(
                1,
                conds(1, ("False", "Unavailable"), ("False", "Throttled")),
            ),
            "Progressing",
        ),
        (
            "aws error",
            profile(1, conds(1, ("False", "Unavailable"), ("False", "AwsError"))),
            "Progressing",
        ),
        (
            "version conflict while ready",
            profile(
                1,
                conds(1, ("True", "Available"), ("False", "VersionConflict")),
            ),
            "Healthy",
        ),
        (
            "throttled resync while ready",
            profile(1, conds(1, ("True", "Available"), ("False", "Throttled"))),
            "Healthy",
        ),
        (
            "kubernetes error",
            profile(
                1,
                conds(1, ("False", "Unavailable"), ("False", "KubernetesError")),
            ),
            "Progressing",
        ),
        (
            "waiting for a dependency",
            profile(
                1,
                conds(
                    1,
                    ("False", "WaitingForDependency"),
                    ("False", "WaitingForDependency"),
                ),
            ),
            "Progressing",
        ),
        (
            "aws rejected",
            profile(
                1,
                conds(1, ("False", "Unavailable"), ("False", "AwsRejected")),
            ),
            "Degraded",
        ),
        (
            "aws rejected while ready",
            profile(1, conds(1, ("True", "Available"), ("False", "AwsRejected"))),
            "Degraded",
        ),
        (
            "forbidden",
            profile(
                1,
                conds(1, ("False", "Unavailable"), ("False", "Forbidden")),
            ),
            "Degraded",
        ),
        (
            "adoption not allowed",
            profile(
                1,
                conds(1, ("False", "Unavailable"), ("False", "AdoptionNotAllowed")),
            ),
            "Degraded",
        ),
        (
            "observed profile drifted",
            profile(1, conds(1, ("False", "Drifted"), ok)),
            "Degraded",
        ),
        (
            "invalid spec",
            profile(
                1,
                conds(1, ("False", "Unavailable"), ("False", "InvalidSpec")),
            ),
            "Degraded",
        ),
        (
            "already exists",
            profile(
                1,
                conds(1, ("False", "Unavailable"), ("False", "AlreadyExists")),
            ),
            "Degraded",
        ),
        (
            "owned by another",
            profile(
                1,
                conds(1, ("False", "Unavailable"), ("False", "OwnedByAnother")),
            ),
            "Degraded",
        ),
        (
            "access denied while ready",
            profile(
                1,
                conds(1, ("True", "Available"), ("False", "AccessDenied")),
            ),
            "Degraded",
        ),
        (
            "paused",
            profile(1, conds(1, ("False", "Paused"), ("False", "Paused"))),
            "Suspended",
        ),
        (
            "paused while ready",
            profile(2, conds(2, ("True", "Available"), ("False", "Paused"))),
            "Suspended",
        ),
        (
            "observed profile missing",
            profile(1, conds(1, ("False", "NotFound"), ok)),
            "Degraded",
        ),
    ];
    for (what, obj, want) in cases {
        let (status, message) = health(obj);
        assert_eq!(status, want, "{what}: {message}");
        assert!(!message.is_empty(), "{what}: a message for the UI");
    }
    let (_, message) = health(profile(
        1,
        conds(1, ("False", "Unavailable"), ("False", "InvalidSpec")),
    ));
    assert_eq!(
        message, "InvalidSpec: synced InvalidSpec",
        "the reason and the operator's message"
    );
}

#[test]
fn argocd_configmap_snippet_carries_the_script() {
    let script = std::fs::read_to_string(root().join("deploy/argocd/health.lua")).unwrap();
    let cm: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(root().join("deploy/argocd/argocd-cm-patch.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["metadata"]["name"], "argocd-cm");
    assert!(
        cm["data"]["resource.customizations.health.iot.awscc.io_SecurityProfile"]
            == script.as_str(),
        "deploy/argocd/argocd-cm-patch.yaml does not hold health.lua verbatim"
    );
}
