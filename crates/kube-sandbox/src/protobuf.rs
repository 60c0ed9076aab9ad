//! Decoding of Kubernetes protobuf request bodies (`k8s\0` + `runtime.Unknown` envelope) into
//! JSON, for the built-in kinds that kubectl and helm send as protobuf (namespaces, secrets,
//! configmaps, serviceaccounts, services, DeleteOptions). Answers stay JSON. Field numbers follow
//! `k8s.io/api` generated.proto.

use base64::Engine;
use serde_json::{Map, Value, json};

pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// How one field is encoded and rendered.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Bytes,
    I64,
    /// A non-pointer Go int (always on the wire; JSON omits zero).
    I64Omit0,
    Bool,
    /// A non-pointer Go bool (always on the wire; JSON omits false).
    BoolOmitFalse,
    IntOrString,
    Time,
    Msg(&'static [Field]),
    RepStr,
    RepMsg(&'static [Field]),
    MapStr,
    MapBytes,
}

#[derive(Clone, Copy)]
struct Field {
    tag: u64,
    name: &'static str,
    kind: Kind,
}

const fn f(tag: u64, name: &'static str, kind: Kind) -> Field {
    Field { tag, name, kind }
}

const OWNER_REF: &[Field] = &[
    f(1, "kind", Kind::Str),
    f(3, "name", Kind::Str),
    f(4, "uid", Kind::Str),
    f(5, "apiVersion", Kind::Str),
    f(6, "controller", Kind::Bool),
    f(7, "blockOwnerDeletion", Kind::Bool),
];

const OBJECT_META: &[Field] = &[
    f(1, "name", Kind::Str),
    f(2, "generateName", Kind::Str),
    f(3, "namespace", Kind::Str),
    f(5, "uid", Kind::Str),
    f(6, "resourceVersion", Kind::Str),
    f(7, "generation", Kind::I64Omit0),
    f(8, "creationTimestamp", Kind::Time),
    f(9, "deletionTimestamp", Kind::Time),
    f(10, "deletionGracePeriodSeconds", Kind::I64),
    f(11, "labels", Kind::MapStr),
    f(12, "annotations", Kind::MapStr),
    f(13, "ownerReferences", Kind::RepMsg(OWNER_REF)),
    f(14, "finalizers", Kind::RepStr),
];

const SECRET: &[Field] = &[
    f(1, "metadata", Kind::Msg(OBJECT_META)),
    f(2, "data", Kind::MapBytes),
    f(3, "type", Kind::Str),
    f(4, "stringData", Kind::MapStr),
    f(5, "immutable", Kind::Bool),
];

const CONFIG_MAP: &[Field] = &[
    f(1, "metadata", Kind::Msg(OBJECT_META)),
    f(2, "data", Kind::MapStr),
    f(3, "binaryData", Kind::MapBytes),
    f(4, "immutable", Kind::Bool),
];

const NAMESPACE_SPEC: &[Field] = &[f(1, "finalizers", Kind::RepStr)];
const NAMESPACE_STATUS: &[Field] = &[f(1, "phase", Kind::Str)];
const NAMESPACE: &[Field] = &[
    f(1, "metadata", Kind::Msg(OBJECT_META)),
    f(2, "spec", Kind::Msg(NAMESPACE_SPEC)),
    f(3, "status", Kind::Msg(NAMESPACE_STATUS)),
];

const OBJECT_REF: &[Field] = &[
    f(1, "kind", Kind::Str),
    f(2, "namespace", Kind::Str),
    f(3, "name", Kind::Str),
    f(4, "uid", Kind::Str),
    f(5, "apiVersion", Kind::Str),
    f(6, "resourceVersion", Kind::Str),
    f(7, "fieldPath", Kind::Str),
];
const LOCAL_REF: &[Field] = &[f(1, "name", Kind::Str)];
const SERVICE_ACCOUNT: &[Field] = &[
    f(1, "metadata", Kind::Msg(OBJECT_META)),
    f(2, "secrets", Kind::RepMsg(OBJECT_REF)),
    f(3, "imagePullSecrets", Kind::RepMsg(LOCAL_REF)),
    f(4, "automountServiceAccountToken", Kind::Bool),
];

const PRECONDITIONS: &[Field] = &[f(1, "uid", Kind::Str), f(2, "resourceVersion", Kind::Str)];
const DELETE_OPTIONS: &[Field] = &[
    f(1, "gracePeriodSeconds", Kind::I64),
    f(2, "preconditions", Kind::Msg(PRECONDITIONS)),
    f(3, "orphanDependents", Kind::Bool),
    f(4, "propagationPolicy", Kind::Str),
    f(5, "dryRun", Kind::RepStr),
];

const SERVICE_PORT: &[Field] = &[
    f(1, "name", Kind::Str),
    f(2, "protocol", Kind::Str),
    f(3, "port", Kind::I64),
    f(4, "targetPort", Kind::IntOrString),
    f(5, "nodePort", Kind::I64Omit0),
    f(6, "appProtocol", Kind::Str),
];
const SERVICE_SPEC: &[Field] = &[
    f(1, "ports", Kind::RepMsg(SERVICE_PORT)),
    f(2, "selector", Kind::MapStr),
    f(3, "clusterIP", Kind::Str),
    f(4, "type", Kind::Str),
    f(5, "externalIPs", Kind::RepStr),
    f(7, "sessionAffinity", Kind::Str),
    f(8, "loadBalancerIP", Kind::Str),
    f(9, "loadBalancerSourceRanges", Kind::RepStr),
    f(10, "externalName", Kind::Str),
    f(11, "externalTrafficPolicy", Kind::Str),
    f(12, "healthCheckNodePort", Kind::I64Omit0),
    f(13, "publishNotReadyAddresses", Kind::BoolOmitFalse),
    f(17, "ipFamilyPolicy", Kind::Str),
    f(18, "clusterIPs", Kind::RepStr),
    f(19, "ipFamilies", Kind::RepStr),
    f(20, "allocateLoadBalancerNodePorts", Kind::Bool),
    f(21, "loadBalancerClass", Kind::Str),
    f(22, "internalTrafficPolicy", Kind::Str),
    f(23, "trafficDistribution", Kind::Str),
];
const SERVICE: &[Field] = &[
    f(1, "metadata", Kind::Msg(OBJECT_META)),
    f(2, "spec", Kind::Msg(SERVICE_SPEC)),
];

const TYPE_META: &[Field] = &[f(1, "apiVersion", Kind::Str), f(2, "kind", Kind::Str)];
const UNKNOWN: &[Field] = &[
    f(1, "typeMeta", Kind::Msg(TYPE_META)),
    f(2, "raw", Kind::Bytes),
];

/// One wire value.
enum Wire<'a> {
    Varint(u64),
    Len(&'a [u8]),
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.buf.split_first().ok_or("truncated varint")?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.buf.len() < n {
            return Err("truncated field".into());
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    /// The next (tag, value), skipping fixed-width values.
    fn next(&mut self) -> Result<Option<(u64, Wire<'a>)>, String> {
        loop {
            if self.buf.is_empty() {
                return Ok(None);
            }
            let key = self.varint()?;
            let (tag, wt) = (key >> 3, key & 7);
            match wt {
                0 => return Ok(Some((tag, Wire::Varint(self.varint()?)))),
                2 => {
                    let n = usize::try_from(self.varint()?).map_err(|_| "length overflow")?;
                    return Ok(Some((tag, Wire::Len(self.take(n)?))));
                }
                1 => {
                    self.take(8)?;
                }
                5 => {
                    self.take(4)?;
                }
                other => return Err(format!("unsupported wire type {other}")),
            }
        }
    }
}

fn text(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "invalid UTF-8 in a string field".to_string())
}

fn map_entry(b: &[u8], bytes_value: bool) -> Result<(String, Value), String> {
    let mut r = Reader { buf: b };
    let (mut k, mut v) = (String::new(), json!(""));
    while let Some((tag, w)) = r.next()? {
        match (tag, w) {
            (1, Wire::Len(s)) => k = text(s)?,
            (2, Wire::Len(s)) if bytes_value => {
                v = json!(base64::engine::general_purpose::STANDARD.encode(s))
            }
            (2, Wire::Len(s)) => v = json!(text(s)?),
            _ => {}
        }
    }
    Ok((k, v))
}

fn time(b: &[u8]) -> Result<Value, String> {
    let mut r = Reader { buf: b };
    let mut secs = 0i64;
    while let Some((tag, w)) = r.next()? {
        if let (1, Wire::Varint(v)) = (tag, w) {
            secs = v as i64;
        }
    }
    let t = chrono::DateTime::from_timestamp(secs, 0).ok_or("time out of range")?;
    Ok(json!(t.format("%Y-%m-%dT%H:%M:%SZ").to_string()))
}

/// `intstr.IntOrString`: type (0 int, 1 string), intVal, strVal.
fn int_or_string(b: &[u8]) -> Result<Value, String> {
    let mut r = Reader { buf: b };
    let (mut is_str, mut int_val, mut str_val) = (false, 0i64, String::new());
    while let Some((tag, w)) = r.next()? {
        match (tag, w) {
            (1, Wire::Varint(v)) => is_str = v == 1,
            (2, Wire::Varint(v)) => int_val = v as i64 as i32 as i64,
            (3, Wire::Len(s)) => str_val = text(s)?,
            _ => {}
        }
    }
    Ok(if is_str {
        json!(str_val)
    } else {
        json!(int_val)
    })
}

fn message(b: &[u8], schema: &[Field]) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    let mut r = Reader { buf: b };
    while let Some((tag, w)) = r.next()? {
        let Some(field) = schema.iter().find(|f| f.tag == tag) else {
            continue;
        };
        let name = field.name.to_string();
        match (field.kind, w) {
            (Kind::Str, Wire::Len(s)) => {
                // proto2 optional strings arrive even when empty; JSON omits them.
                if !s.is_empty() {
                    out.insert(name, json!(text(s)?));
                }
            }
            (Kind::Bytes, Wire::Len(s)) => {
                out.insert(
                    name,
                    json!(base64::engine::general_purpose::STANDARD.encode(s)),
                );
            }
            (Kind::I64, Wire::Varint(v)) => {
                out.insert(name, json!(v as i64));
            }
            (Kind::I64Omit0, Wire::Varint(v)) => {
                if v != 0 {
                    out.insert(name, json!(v as i64));
                }
            }
            (Kind::Bool, Wire::Varint(v)) => {
                out.insert(name, json!(v != 0));
            }
            (Kind::BoolOmitFalse, Wire::Varint(v)) => {
                if v != 0 {
                    out.insert(name, json!(true));
                }
            }
            (Kind::IntOrString, Wire::Len(s)) => {
                out.insert(name, int_or_string(s)?);
            }
            (Kind::Time, Wire::Len(s)) => {
                out.insert(name, time(s)?);
            }
            (Kind::Msg(inner), Wire::Len(s)) => {
                out.insert(name, Value::Object(message(s, inner)?));
            }
            (Kind::RepStr, Wire::Len(s)) => push(&mut out, name, json!(text(s)?)),
            (Kind::RepMsg(inner), Wire::Len(s)) => {
                push(&mut out, name, Value::Object(message(s, inner)?))
            }
            (Kind::MapStr | Kind::MapBytes, Wire::Len(s)) => {
                let (k, v) = map_entry(s, matches!(field.kind, Kind::MapBytes))?;
                let m = out.entry(name).or_insert_with(|| json!({}));
                m[k] = v;
            }
            _ => return Err(format!("field {} has an unexpected wire type", field.name)),
        }
    }
    Ok(out)
}

fn push(out: &mut Map<String, Value>, name: String, v: Value) {
    match out.entry(name).or_insert_with(|| json!([])) {
        Value::Array(a) => a.push(v),
        other => *other = json!([v]),
    }
}

/// Decodes a protobuf body into the JSON object it stands for.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let inner = body
        .strip_prefix(b"k8s\0")
        .ok_or("missing the k8s protobuf envelope")?;
    let envelope = message(inner, UNKNOWN)?;
    let api_version = envelope["typeMeta"]["apiVersion"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let kind = envelope["typeMeta"]["kind"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(envelope.get("raw").and_then(Value::as_str).unwrap_or(""))
        .map_err(|e| e.to_string())?;
    let schema = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Secret") => SECRET,
        ("v1", "ConfigMap") => CONFIG_MAP,
        ("v1", "Namespace") => NAMESPACE,
        ("v1", "ServiceAccount") => SERVICE_ACCOUNT,
        ("v1", "Service") => SERVICE,
        (_, "DeleteOptions") => DELETE_OPTIONS,
        _ => {
            return Err(format!(
                "protobuf is not supported for {api_version}/{kind}"
            ));
        }
    };
    let mut obj = message(&raw, schema)?;
    obj.insert("apiVersion".into(), json!(api_version));
    obj.insert("kind".into(), json!(kind));
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(tag: u64, bytes: &[u8]) -> Vec<u8> {
        let mut v = vec![((tag << 3) | 2) as u8, bytes.len() as u8];
        v.extend_from_slice(bytes);
        v
    }

    #[test]
    fn decodes_a_secret_envelope() {
        let meta = [
            field(1, b"rel.v1"),
            field(11, &[field(1, b"owner"), field(2, b"helm")].concat()),
        ]
        .concat();
        let secret = [
            field(1, &meta),
            field(2, &[field(1, b"release"), field(2, &[0, 1, 2])].concat()),
            field(3, b"helm.sh/release.v1"),
        ]
        .concat();
        let type_meta = [field(1, b"v1"), field(2, b"Secret")].concat();
        let mut body = b"k8s\0".to_vec();
        body.extend([field(1, &type_meta), field(2, &secret)].concat());
        let v = decode(&body).unwrap();
        assert_eq!(v["kind"], "Secret");
        assert_eq!(v["metadata"]["name"], "rel.v1");
        assert_eq!(v["metadata"]["labels"]["owner"], "helm");
        assert_eq!(v["data"]["release"], "AAEC");
        assert_eq!(v["type"], "helm.sh/release.v1");
    }

    #[test]
    fn rejects_unknown_kinds_and_garbage() {
        assert!(decode(b"{}").is_err());
        let type_meta = [field(1, b"apps/v1"), field(2, b"Deployment")].concat();
        let mut body = b"k8s\0".to_vec();
        body.extend(field(1, &type_meta));
        assert!(decode(&body).is_err());
    }
}
