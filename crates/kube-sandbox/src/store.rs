//! Object storage with one global, increasing resourceVersion, the write semantics of
//! kube-apiserver (preconditions, generation, finalizers, status subresource, namespace and CRD
//! cleanup) and the event history that watches replay from.

use crate::registry::{Registry, ResourceType, types_from_crd};
use crate::status::ApiError;
use base64::Engine;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

pub type Obj = Arc<Value>;
/// (group, plural): objects are shared by every served version of a resource.
pub type TypeKey = (String, String);

const NAMESPACES: (&str, &str) = ("", "namespaces");
const CRDS: (&str, &str) = ("apiextensions.k8s.io", "customresourcedefinitions");
/// The finalizer kube-apiserver puts on every CRD: its custom resources go first.
const CRD_CLEANUP: &str = "customresourcecleanup.apiextensions.k8s.io";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One committed change, as watches see it.
#[derive(Debug)]
pub struct Event {
    pub rv: u64,
    pub key: TypeKey,
    pub namespace: String,
    pub kind: EventType,
    pub object: Obj,
    /// The object before a modification (so selector watches can turn it into ADDED/DELETED).
    pub prev: Option<Obj>,
}

/// Options of one write request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Write {
    /// `dryRun=All`: run everything, store nothing.
    pub dry_run: bool,
    /// `fieldValidation=Strict`: unknown fields of custom resources are an error.
    pub strict: bool,
    /// Server-side apply (it maintains `managedFields` itself).
    pub apply: bool,
}

/// Which endpoint a write came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    Main,
    Status,
}

/// What a delete did.
pub enum Deleted {
    /// Finalizers (or namespace contents) keep the object; it now carries a deletionTimestamp.
    Pending(Obj),
    /// The object is gone.
    Gone(Obj),
}

/// A page of a list.
pub struct Page {
    pub items: Vec<Obj>,
    pub rv: u64,
    pub next: Option<(String, String)>,
    pub remaining: usize,
}

pub struct State {
    pub rv: u64,
    pub registry: Registry,
    objects: HashMap<TypeKey, BTreeMap<(String, String), Obj>>,
    history: VecDeque<Arc<Event>>,
    history_limit: usize,
    /// Every event with rv greater than this is still in `history`.
    pub history_floor: u64,
    tx: broadcast::Sender<Arc<Event>>,
}

pub struct Store {
    state: Mutex<State>,
}

pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `metadata` as a map (created when missing); None only when `obj` is not an object, which
/// the write paths rule out before they get here.
fn meta(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let root = obj.as_object_mut()?;
    let m = root.entry("metadata").or_insert_with(|| json!({}));
    if !m.is_object() {
        *m = json!({});
    }
    m.as_object_mut()
}

pub fn set_meta(obj: &mut Value, key: &str, value: Value) {
    if let Some(m) = meta(obj) {
        m.insert(key.to_string(), value);
    }
}

fn mstr<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj["metadata"][field].as_str().filter(|s| !s.is_empty())
}

fn finalizers(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn key_of(rt: &ResourceType) -> TypeKey {
    rt.storage_key()
}

fn is(key: &TypeKey, what: (&str, &str)) -> bool {
    key.0 == what.0 && key.1 == what.1
}

fn random_suffix() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn valid_subdomain(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn invalid_one(rt: &ResourceType, name: &str, reason: &str, field: &str, msg: String) -> ApiError {
    ApiError::invalid(
        &rt.kind,
        &rt.group,
        name,
        vec![(reason.to_string(), msg, field.to_string())],
    )
}

fn admission_error(
    rt: &ResourceType,
    name: &str,
    errs: Vec<kube_admission::FieldError>,
) -> ApiError {
    ApiError::invalid(
        &rt.kind,
        &rt.group,
        name,
        errs.iter()
            .map(|e| (e.reason().to_string(), e.message(), e.field.clone()))
            .collect(),
    )
}

/// The object without metadata (and without status when `drop_status`): what generation tracks.
fn content(obj: &Value, drop_status: bool) -> Value {
    let mut c = obj.clone();
    if let Some(m) = c.as_object_mut() {
        m.remove("metadata");
        if drop_status {
            m.remove("status");
        }
    }
    c
}

impl Store {
    pub fn new(history_limit: usize) -> Arc<Store> {
        let (tx, _) = broadcast::channel(65536);
        let mut state = State {
            rv: 0,
            registry: Registry::with_builtins(),
            objects: HashMap::new(),
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            history_floor: 0,
            tx,
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let ns_type = state.registry.get("", "v1", "namespaces");
            if let Some(rt) = ns_type
                && let Err(e) =
                    state.create(&rt, "", json!({"metadata": {"name": ns}}), Write::default())
            {
                tracing::error!(error = ?e, "creating namespace {ns}");
            }
        }
        Arc::new(Store {
            state: Mutex::new(state),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// Stores a created (`old` None) or updated object at the next resourceVersion, keeps the
    /// CRD registry in step, and tells the watchers.
    fn store(
        &mut self,
        key: TypeKey,
        ns: String,
        name: &str,
        mut obj: Value,
        old: Option<Obj>,
    ) -> Obj {
        self.rv += 1;
        set_meta(&mut obj, "resourceVersion", json!(self.rv.to_string()));
        let obj = Arc::new(obj);
        self.objects
            .entry(key.clone())
            .or_default()
            .insert((ns.clone(), name.to_string()), obj.clone());
        if is(&key, CRDS) {
            self.crd_committed(Some(&obj), name);
        }
        let kind = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.emit(key, ns, kind, obj.clone(), old);
        obj
    }

    fn emit(
        &mut self,
        key: TypeKey,
        namespace: String,
        kind: EventType,
        object: Obj,
        prev: Option<Obj>,
    ) {
        let ev = Arc::new(Event {
            rv: self.rv,
            key,
            namespace,
            kind,
            object,
            prev,
        });
        self.history.push_back(ev.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.history_floor = old.rv;
            }
        }
        let _ = self.tx.send(ev);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// Events after `rv`, or None when some of them have left the history (410 Expired).
    pub fn events_since(&self, rv: u64) -> Option<Vec<Arc<Event>>> {
        if rv < self.history_floor {
            return None;
        }
        let start = self.history.partition_point(|e| e.rv <= rv);
        Some(self.history.iter().skip(start).cloned().collect())
    }

    fn map(&self, key: &TypeKey) -> Option<&BTreeMap<(String, String), Obj>> {
        self.objects.get(key)
    }

    fn lookup(&self, key: &TypeKey, ns: &str, name: &str) -> Option<Obj> {
        self.map(key)?
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    fn store_ns(rt: &ResourceType, ns: &str) -> String {
        if rt.namespaced {
            ns.to_string()
        } else {
            String::new()
        }
    }

    pub fn get(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Obj, ApiError> {
        self.lookup(&key_of(rt), &Self::store_ns(rt, ns), name)
            .ok_or_else(|| ApiError::not_found(&rt.qualified(), &rt.group, &rt.plural, name))
    }

    /// Lists `rt` in `ns` (all namespaces when None), after `start` and up to `limit` items.
    pub fn list(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        filter: &dyn Fn(&Value) -> bool,
        limit: usize,
        start: Option<(String, String)>,
    ) -> Page {
        let mut page = Page {
            items: Vec::new(),
            rv: self.rv,
            next: None,
            remaining: 0,
        };
        let Some(map) = self.map(&key_of(rt)) else {
            return page;
        };
        let ns = ns.filter(|n| !n.is_empty() && rt.namespaced);
        let lower = match (&start, ns) {
            (Some(s), _) => Bound::Excluded(s.clone()),
            (None, Some(n)) => Bound::Included((n.to_string(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        for ((ons, oname), obj) in map.range((lower, Bound::Unbounded)) {
            if let Some(n) = ns
                && ons != n
            {
                break;
            }
            if !filter(obj) {
                continue;
            }
            if limit > 0 && page.items.len() >= limit {
                if page.next.is_none() {
                    let last = page.items.last().map(|o| {
                        (
                            mstr(o, "namespace").unwrap_or("").to_string(),
                            mstr(o, "name").unwrap_or("").to_string(),
                        )
                    });
                    page.next = last.or_else(|| Some((ons.clone(), oname.clone())));
                }
                page.remaining += 1;
                continue;
            }
            page.items.push(obj.clone());
        }
        page
    }

    fn namespace_has_content(&self, ns: &str) -> bool {
        self.objects.iter().any(|(key, map)| {
            !is(key, NAMESPACES)
                && map
                    .range((ns.to_string(), String::new())..)
                    .next()
                    .is_some_and(|((n, _), _)| n == ns)
        })
    }

    fn check_namespace(&self, ns: &str) -> Result<(), ApiError> {
        let key = (NAMESPACES.0.to_string(), NAMESPACES.1.to_string());
        match self.lookup(&key, "", ns) {
            None => Err(ApiError::not_found("namespaces", "", "namespaces", ns)),
            Some(o) if mstr(&o, "deletionTimestamp").is_some() => {
                Err(ApiError::forbidden(format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                )))
            }
            Some(_) => Ok(()),
        }
    }

    /// Kind-specific defaulting and validation the real registry strategies do.
    fn prepare(&self, rt: &ResourceType, obj: &mut Value, name: &str) -> Result<(), ApiError> {
        // Empty lists of metadata are omitted (`omitempty`), as the real server stores them.
        if obj["metadata"]["finalizers"]
            .as_array()
            .is_some_and(Vec::is_empty)
            && let Some(m) = meta(obj)
        {
            m.remove("finalizers");
        }
        match (rt.group.as_str(), rt.plural.as_str()) {
            ("events.k8s.io", "events") if obj["eventTime"].is_null() => {
                // events.k8s.io/v1 validation; its messages name the core kind.
                return Err(ApiError::invalid(
                    "Event",
                    "",
                    name,
                    vec![(
                        "FieldValueRequired".into(),
                        "Required value".into(),
                        "eventTime".into(),
                    )],
                ));
            }
            ("", "secrets") => {
                if let Some(Value::Object(sd)) =
                    obj.as_object_mut().and_then(|m| m.remove("stringData"))
                {
                    if !obj["data"].is_object() {
                        obj["data"] = json!({});
                    }
                    for (k, v) in sd {
                        let s = v.as_str().unwrap_or_default();
                        obj["data"][k] =
                            json!(base64::engine::general_purpose::STANDARD.encode(s.as_bytes()));
                    }
                }
                if obj["type"].is_null() {
                    obj["type"] = json!("Opaque");
                }
            }
            ("", "services") => {
                // What the service registry defaults and allocates (no proxying behind it).
                if !obj["spec"].is_object() {
                    obj["spec"] = json!({});
                }
                let spec = &mut obj["spec"];
                if spec["type"].is_null() {
                    spec["type"] = json!("ClusterIP");
                }
                if spec["clusterIP"].is_null() && spec["type"] != "ExternalName" {
                    let n = self.rv + 1;
                    let ip = format!("10.96.{}.{}", (n >> 8) & 0xff, (n & 0xff).max(1));
                    spec["clusterIP"] = json!(ip);
                    spec["clusterIPs"] = json!([ip]);
                }
                if spec["sessionAffinity"].is_null() {
                    spec["sessionAffinity"] = json!("None");
                }
                if let Some(ports) = spec["ports"].as_array_mut() {
                    for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                        p.entry("protocol").or_insert_with(|| json!("TCP"));
                        if !p.contains_key("targetPort")
                            && let Some(port) = p.get("port").cloned()
                        {
                            p.insert("targetPort".into(), port);
                        }
                    }
                }
            }
            ("", "namespaces") => {
                if !obj["metadata"]["labels"].is_object() {
                    set_meta(obj, "labels", json!({}));
                }
                obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
                if obj["spec"]["finalizers"].is_null() {
                    obj["spec"] = json!({"finalizers": ["kubernetes"]});
                }
                let phase = if mstr(obj, "deletionTimestamp").is_some() {
                    "Terminating"
                } else {
                    "Active"
                };
                obj["status"] = json!({"phase": phase});
            }
            ("apiextensions.k8s.io", "customresourcedefinitions") => {
                let (group, plural, types) = types_from_crd(obj).map_err(|m| {
                    let (field, msg) = m.split_once(": ").unwrap_or(("spec", m.as_str()));
                    invalid_one(rt, name, "FieldValueRequired", field, msg.to_string())
                })?;
                if name != format!("{plural}.{group}") {
                    return Err(invalid_one(
                        rt,
                        name,
                        "FieldValueInvalid",
                        "metadata.name",
                        format!(
                            "Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"
                        ),
                    ));
                }
                let storage: Vec<Value> = obj["spec"]["versions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|v| v["storage"].as_bool() == Some(true))
                    .map(|v| v["name"].clone())
                    .collect();
                if types.is_empty() {
                    return Err(invalid_one(
                        rt,
                        name,
                        "FieldValueInvalid",
                        "spec.versions",
                        "Invalid value: must have at least one served version".into(),
                    ));
                }
                let mut accepted = obj["spec"]["names"].clone();
                if accepted["singular"].is_null() {
                    accepted["singular"] = json!(types[0].singular);
                }
                if accepted["listKind"].is_null() {
                    accepted["listKind"] = json!(types[0].list_kind());
                }
                let t = now();
                obj["status"] = json!({
                    "acceptedNames": accepted,
                    "conditions": [
                        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                         "message": "no conflicts found", "lastTransitionTime": t},
                        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                         "message": "the initial names have been accepted", "lastTransitionTime": t},
                    ],
                    "storedVersions": storage,
                });
            }
            _ => {}
        }
        Ok(())
    }

    /// Makes the registry follow a committed CRD (None: deleted).
    fn crd_committed(&mut self, crd: Option<&Value>, name: &str) {
        match crd.map(types_from_crd) {
            Some(Ok((group, plural, types))) => self.registry.set_crd(&group, &plural, types),
            _ => {
                if let Some((plural, group)) = name.split_once('.') {
                    self.registry.set_crd(group, plural, vec![]);
                }
            }
        }
    }

    fn admit(
        &self,
        rt: &ResourceType,
        obj: &mut Value,
        old: Option<&Value>,
        name: &str,
        strict: bool,
    ) -> Result<(), ApiError> {
        if !rt.custom {
            return Ok(());
        }
        let Some(schema) = &rt.schema else {
            return Ok(());
        };
        if strict {
            let unknown = kube_admission::prune_unknown_fields(schema, &mut obj.clone());
            if !unknown.is_empty() {
                let listed: Vec<String> = unknown
                    .iter()
                    .map(|f| format!("unknown field \"{f}\""))
                    .collect();
                return Err(ApiError::bad_request(format!(
                    "{kind} in version \"{v}\" cannot be handled as a {kind}: strict decoding error: {}",
                    listed.join(", "),
                    kind = rt.kind,
                    v = rt.version,
                )));
            }
        }
        kube_admission::admit(schema, obj, old).map_err(|errs| admission_error(rt, name, errs))
    }

    pub fn create(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        mut obj: Value,
        opts: Write,
    ) -> Result<Obj, ApiError> {
        if !obj.is_object() || !(obj["metadata"].is_object() || obj["metadata"].is_null()) {
            return Err(ApiError::bad_request(
                "the body of the request must be a JSON object (with an object metadata)",
            ));
        }
        if crate::events::is_events_v1(rt) {
            obj = crate::events::to_core(&obj);
        }
        obj["apiVersion"] = json!(rt.stored_api_version());
        obj["kind"] = json!(rt.kind);
        let name = match (mstr(&obj, "name"), mstr(&obj, "generateName")) {
            (Some(n), _) => n.to_string(),
            (None, Some(g)) => format!("{g}{}", random_suffix()),
            (None, None) => {
                return Err(invalid_one(
                    rt,
                    "",
                    "FieldValueRequired",
                    "metadata.name",
                    "Required value: name or generateName is required".into(),
                ));
            }
        };
        if !valid_subdomain(&name) {
            return Err(invalid_one(
                rt,
                &name,
                "FieldValueInvalid",
                "metadata.name",
                format!(
                    "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                ),
            ));
        }
        let ns = Self::store_ns(rt, ns);
        if rt.namespaced {
            if let Some(body_ns) = mstr(&obj, "namespace")
                && body_ns != ns
            {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            self.check_namespace(&ns)?;
        }
        let key = key_of(rt);
        if self.lookup(&key, &ns, &name).is_some() {
            return Err(ApiError::already_exists(
                &rt.qualified(),
                &rt.group,
                &rt.plural,
                &name,
            ));
        }
        if let Some(m) = meta(&mut obj) {
            m.insert("name".into(), json!(name));
            if rt.namespaced {
                m.insert("namespace".into(), json!(ns));
            } else {
                m.remove("namespace");
            }
            m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
            m.insert("creationTimestamp".into(), json!(now()));
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
            m.remove("resourceVersion");
            if rt.generation {
                m.insert("generation".into(), json!(1));
            } else {
                m.remove("generation");
            }
        }
        if rt.custom
            && rt.status
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        if self.crd_terminating(rt) {
            return Err(ApiError::method_not_allowed(
                "create not allowed while custom resource definition is terminating",
            ));
        }
        self.prepare(rt, &mut obj, &name)?;
        if is(&key, CRDS) {
            let mut f = finalizers(&obj);
            if !f.iter().any(|x| x == CRD_CLEANUP) {
                f.push(CRD_CLEANUP.to_string());
            }
            set_meta(&mut obj, "finalizers", json!(f));
        }
        self.admit(rt, &mut obj, None, &name, opts.strict)?;
        if opts.dry_run {
            return Ok(Arc::new(obj));
        }
        Ok(self.store(key, ns, &name, obj, None))
    }

    /// PUT (and the last step of PATCH): `new` replaces the stored object.
    pub fn update(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        new: Value,
        sub: Sub,
        opts: Write,
    ) -> Result<Obj, ApiError> {
        let old = self.get(rt, ns, name)?;
        if !new.is_object() || !(new["metadata"].is_object() || new["metadata"].is_null()) {
            return Err(ApiError::bad_request(
                "the body of the request must be a JSON object (with an object metadata)",
            ));
        }
        let new = if crate::events::is_events_v1(rt) {
            crate::events::to_core(&new)
        } else {
            new
        };
        if let Some(n) = mstr(&new, "name")
            && n != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        if let Some(rv) = mstr(&new, "resourceVersion")
            && Some(rv) != mstr(&old, "resourceVersion")
        {
            return Err(ApiError::conflict(
                &rt.qualified(),
                &rt.group,
                &rt.plural,
                name,
                ApiError::STALE,
            ));
        }
        let mut result = match sub {
            Sub::Status => {
                let mut r = (*old).clone();
                match new.get("status") {
                    Some(s) => r["status"] = s.clone(),
                    None => {
                        if let Some(m) = r.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
                r
            }
            Sub::Main => {
                let mut r = new;
                if rt.status {
                    match old.get("status") {
                        Some(s) => r["status"] = s.clone(),
                        None => {
                            if let Some(m) = r.as_object_mut() {
                                m.remove("status");
                            }
                        }
                    }
                }
                if let Some(m) = meta(&mut r) {
                    for f in [
                        "name",
                        "namespace",
                        "uid",
                        "creationTimestamp",
                        "deletionTimestamp",
                        "deletionGracePeriodSeconds",
                        "generation",
                    ] {
                        match old["metadata"].get(f) {
                            Some(v) => m.insert(f.into(), v.clone()),
                            None => m.remove(f),
                        };
                    }
                }
                r
            }
        };
        result["apiVersion"] = json!(rt.stored_api_version());
        result["kind"] = json!(rt.kind);
        if mstr(&old, "deletionTimestamp").is_some() {
            let before = finalizers(&old);
            let added: Vec<String> = finalizers(&result)
                .into_iter()
                .filter(|f| !before.contains(f))
                .collect();
            if !added.is_empty() {
                return Err(invalid_one(
                    rt,
                    name,
                    "FieldValueForbidden",
                    "metadata.finalizers",
                    format!(
                        "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                        added
                            .iter()
                            .map(|f| format!("{f:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        self.prepare(rt, &mut result, name)?;
        self.admit(
            rt,
            &mut result,
            Some(&old),
            name,
            opts.strict && sub == Sub::Main,
        )?;
        if !opts.apply {
            crate::apply::transfer_on_update(&old, &mut result);
        }
        if rt.generation
            && sub == Sub::Main
            && content(&result, rt.status) != content(&old, rt.status)
        {
            let g = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            set_meta(&mut result, "generation", json!(g));
        }
        if let Some(rv) = old["metadata"].get("resourceVersion") {
            set_meta(&mut result, "resourceVersion", rv.clone());
        }
        if result == *old {
            return Ok(old);
        }
        if opts.dry_run {
            return Ok(Arc::new(result));
        }
        let key = key_of(rt);
        let sns = Self::store_ns(rt, ns);
        if mstr(&result, "deletionTimestamp").is_some()
            && finalizers(&result).is_empty()
            && !self.blocks_deletion(&key, name)
        {
            return Ok(self.remove(&key, &sns, name, result));
        }
        Ok(self.store(key, sns, name, result, Some(old)))
    }

    /// A namespace being deleted stays while it has content.
    fn blocks_deletion(&self, key: &TypeKey, name: &str) -> bool {
        is(key, NAMESPACES) && self.namespace_has_content(name)
    }

    /// Removes an object for good (rv bump, DELETED event, CRD and namespace follow-ups).
    fn remove(&mut self, key: &TypeKey, ns: &str, name: &str, mut last: Value) -> Obj {
        self.rv += 1;
        set_meta(&mut last, "resourceVersion", json!(self.rv.to_string()));
        let last = Arc::new(last);
        let prev = self
            .objects
            .get_mut(key)
            .and_then(|m| m.remove(&(ns.to_string(), name.to_string())));
        self.emit(
            key.clone(),
            ns.to_string(),
            EventType::Deleted,
            last.clone(),
            prev,
        );
        if is(key, CRDS) {
            if let Some((plural, group)) = name.split_once('.') {
                let crkey = (group.to_string(), plural.to_string());
                let names: Vec<(String, String)> = self
                    .objects
                    .get(&crkey)
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                for (cns, cname) in names {
                    if let Some(o) = self.lookup(&crkey, &cns, &cname) {
                        self.remove(&crkey, &cns, &cname, (*o).clone());
                    }
                }
            }
            self.crd_committed(None, name);
        }
        if !ns.is_empty() {
            self.maybe_finish_namespace(ns);
        }
        if !key.0.is_empty() && !is(key, CRDS) {
            self.maybe_finish_crd(&format!("{}.{}", key.1, key.0));
        }
        last
    }

    fn crd_key() -> TypeKey {
        (CRDS.0.to_string(), CRDS.1.to_string())
    }

    /// The terminating CRD that defines `rt`, if any (no new objects then).
    fn crd_terminating(&self, rt: &ResourceType) -> bool {
        rt.custom
            && self
                .lookup(&Self::crd_key(), "", &rt.qualified())
                .is_some_and(|o| mstr(&o, "deletionTimestamp").is_some())
    }

    /// Once a terminating CRD has no custom resources left, its cleanup finalizer goes (and the
    /// CRD with it when no other finalizer remains).
    fn maybe_finish_crd(&mut self, name: &str) {
        let key = Self::crd_key();
        let Some(crd) = self.lookup(&key, "", name) else {
            return;
        };
        if mstr(&crd, "deletionTimestamp").is_none()
            || !finalizers(&crd).iter().any(|f| f == CRD_CLEANUP)
        {
            return;
        }
        let Some((plural, group)) = name.split_once('.') else {
            return;
        };
        let crkey = (group.to_string(), plural.to_string());
        if self.objects.get(&crkey).is_some_and(|m| !m.is_empty()) {
            return;
        }
        let mut next = (*crd).clone();
        let left: Vec<String> = finalizers(&crd)
            .into_iter()
            .filter(|f| f != CRD_CLEANUP)
            .collect();
        if left.is_empty() {
            self.remove(&key, "", name, next);
            return;
        }
        set_meta(&mut next, "finalizers", json!(left));
        self.rv += 1;
        set_meta(&mut next, "resourceVersion", json!(self.rv.to_string()));
        let next = Arc::new(next);
        self.objects
            .entry(key.clone())
            .or_default()
            .insert((String::new(), name.to_string()), next.clone());
        self.emit(key, String::new(), EventType::Modified, next, Some(crd));
    }

    fn maybe_finish_namespace(&mut self, ns: &str) {
        let key = (NAMESPACES.0.to_string(), NAMESPACES.1.to_string());
        if let Some(o) = self.lookup(&key, "", ns)
            && mstr(&o, "deletionTimestamp").is_some()
            && finalizers(&o).is_empty()
            && !self.namespace_has_content(ns)
        {
            self.remove(&key, "", ns, (*o).clone());
        }
    }

    /// DELETE of one object, honouring preconditions and finalizers.
    pub fn delete(
        &mut self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        precondition_uid: Option<&str>,
        precondition_rv: Option<&str>,
        dry_run: bool,
    ) -> Result<Deleted, ApiError> {
        let old = self.get(rt, ns, name)?;
        if let Some(uid) = precondition_uid
            && Some(uid) != mstr(&old, "uid")
        {
            let kind = if rt.group.is_empty() {
                rt.kind.clone()
            } else {
                format!("{}.{}", rt.kind, rt.group)
            };
            return Err(ApiError::conflict(
                &kind,
                &rt.group,
                &rt.plural,
                name,
                &format!(
                    "the UID in the precondition ({uid}) does not match the UID in record ({}). The object might have been deleted and then recreated",
                    mstr(&old, "uid").unwrap_or("")
                ),
            ));
        }
        if let Some(rv) = precondition_rv
            && Some(rv) != mstr(&old, "resourceVersion")
        {
            return Err(ApiError::conflict(
                &rt.qualified(),
                &rt.group,
                &rt.plural,
                name,
                ApiError::STALE,
            ));
        }
        if dry_run {
            return Ok(Deleted::Pending(old));
        }
        Ok(self.delete_key(&key_of(rt), &Self::store_ns(rt, ns), name))
    }

    fn delete_key(&mut self, key: &TypeKey, ns: &str, name: &str) -> Deleted {
        let Some(old) = self.lookup(key, ns, name) else {
            return Deleted::Gone(Arc::new(Value::Null));
        };
        let is_ns = is(key, NAMESPACES);
        if finalizers(&old).is_empty() && !(is_ns && self.namespace_has_content(name)) {
            return Deleted::Gone(self.remove(key, ns, name, (*old).clone()));
        }
        let mut current = old.clone();
        if mstr(&old, "deletionTimestamp").is_none() {
            let mut marked = (*old).clone();
            set_meta(&mut marked, "deletionTimestamp", json!(now()));
            set_meta(&mut marked, "deletionGracePeriodSeconds", json!(0));
            // As the generic registry does: marking an object for deletion is a new generation.
            if let Some(g) = old["metadata"]["generation"].as_i64().filter(|g| *g > 0) {
                set_meta(&mut marked, "generation", json!(g + 1));
            }
            if is_ns {
                marked["status"] = json!({"phase": "Terminating"});
            }
            self.rv += 1;
            set_meta(&mut marked, "resourceVersion", json!(self.rv.to_string()));
            current = Arc::new(marked);
            self.objects
                .entry(key.clone())
                .or_default()
                .insert((ns.to_string(), name.to_string()), current.clone());
            self.emit(
                key.clone(),
                ns.to_string(),
                EventType::Modified,
                current.clone(),
                Some(old),
            );
        }
        if is_ns {
            let keys: Vec<TypeKey> = self
                .objects
                .keys()
                .filter(|k| !is(k, NAMESPACES))
                .cloned()
                .collect();
            for k in keys {
                let names: Vec<String> = self
                    .objects
                    .get(&k)
                    .map(|m| {
                        m.range((name.to_string(), String::new())..)
                            .take_while(|((n, _), _)| n == name)
                            .map(|((_, o), _)| o.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                for o in names {
                    self.delete_key(&k, name, &o);
                }
            }
            self.maybe_finish_namespace(name);
            if let Some(o) = self.lookup(key, ns, name) {
                current = o;
            } else {
                return Deleted::Gone(current);
            }
        }
        if is(key, CRDS)
            && let Some((plural, group)) = name.split_once('.')
        {
            let crkey = (group.to_string(), plural.to_string());
            let names: Vec<(String, String)> = self
                .objects
                .get(&crkey)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            for (cns, cname) in names {
                self.delete_key(&crkey, &cns, &cname);
            }
            self.maybe_finish_crd(name);
            match self.lookup(key, ns, name) {
                Some(o) => current = o,
                None => return Deleted::Gone(current),
            }
        }
        Deleted::Pending(current)
    }
}
