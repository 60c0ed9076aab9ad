//! HTTP routing: discovery, OpenAPI and the resource endpoints
//! (`/api/v1/...`, `/apis/{group}/{version}/...`), with bearer-token auth.

use crate::apply;
use crate::discovery;
use crate::openapi;
use crate::patch;
use crate::protobuf;
use crate::registry::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::{self, ApiError};
use crate::store::{Deleted, Obj, Store, Sub, Write};
use crate::table;
use crate::watch::{self, WatchParams, present};
use base64::Engine;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::{Frame, Incoming};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Shared server state.
pub struct App {
    pub store: Arc<Store>,
    pub token: String,
    /// Service-account tokens and, when enabled, RBAC for them.
    pub(crate) authz: crate::rbac::Authz,
    /// `host:port` the server listens on (for `/api`'s serverAddressByClientCIDRs).
    pub address: String,
}

type Query = HashMap<String, String>;

pub fn full(code: u16, content_type: &str, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)).boxed_unsync());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

pub fn json_response(code: u16, v: &Value) -> Response<Body> {
    full(
        code,
        "application/json",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.to_status())
}

/// The hyper service function.
pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let uri = req.uri().clone();
    let resp = match route(&app, req).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    tracing::debug!(%method, %uri, status = resp.status().as_u16(), "request");
    Ok(resp)
}

fn bearer<B>(req: &Request<B>) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Authenticates the request (the sandbox's token or a service account's) and, for a service
/// account, authorizes it with RBAC when that is enabled.
fn authorize<B>(app: &App, req: &Request<B>, path: &str) -> Result<(), ApiError> {
    let token = bearer(req).ok_or_else(ApiError::unauthorized)?;
    if token == app.token {
        return Ok(());
    }
    let sa = app
        .authz
        .service_account(token)
        .ok_or_else(ApiError::unauthorized)?;
    let query = req.uri().query().unwrap_or("");
    let d = app
        .authz
        .decide(&app.store, &sa, req.method().as_str(), path, query);
    match (d.allowed, d.attributes) {
        (true, _) => Ok(()),
        (false, Some(a)) => Err(ApiError::forbidden(format!(
            "{} {:?} is forbidden: User \"{}\" cannot {} resource \"{}\" in API group \"{}\"{}",
            a.resource,
            a.name.unwrap_or_default(),
            d.user,
            a.verb,
            a.resource,
            a.group,
            a.namespace
                .map(|n| format!(" in the namespace \"{n}\""))
                .unwrap_or_else(|| " at the cluster scope".into())
        ))),
        (false, None) => Err(ApiError::forbidden(format!("{} is forbidden", d.request))),
    }
}

async fn route(app: &Arc<App>, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_string();
    let query: Query = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let public = matches!(
        segs.as_slice(),
        ["version"] | ["healthz"] | ["livez"] | ["readyz"]
    );
    if !public {
        authorize(app, &req, &path)?;
    }
    let get = req.method() == Method::GET;
    let aggregated = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(discovery::wants_aggregated);
    match segs.as_slice() {
        ["version"] => Ok(json_response(200, &discovery::version())),
        ["healthz"] | ["livez"] | ["readyz"] => Ok(full(200, "text/plain", b"ok".to_vec())),
        ["api"] | ["apis"] if get && aggregated => Ok(full(
            200,
            discovery::AGGREGATED_MEDIA,
            serde_json::to_vec(&discovery::aggregated(
                &app.store.lock().registry,
                segs[0] == "api",
            ))
            .unwrap_or_default(),
        )),
        ["api"] if get => Ok(json_response(200, &discovery::api_versions(&app.address))),
        ["apis"] if get => Ok(json_response(
            200,
            &discovery::group_list(&app.store.lock().registry),
        )),
        ["api", "v1"] if get => discovery::resource_list(&app.store.lock().registry, "", "v1")
            .map(|v| json_response(200, &v))
            .ok_or_else(ApiError::path_not_found),
        ["apis", g] if get => discovery::group(&app.store.lock().registry, g)
            .map(|v| json_response(200, &v))
            .ok_or_else(ApiError::path_not_found),
        ["apis", g, v] if get => discovery::resource_list(&app.store.lock().registry, g, v)
            .map(|v| json_response(200, &v))
            .ok_or_else(ApiError::path_not_found),
        ["openapi", "v3"] if get => Ok(json_response(
            200,
            &openapi::root(&app.store.lock().registry),
        )),
        ["openapi", "v3", "api", v] if get => {
            openapi::group_version(&app.store.lock().registry, "", v)
                .map(|d| json_response(200, &d))
                .ok_or_else(ApiError::path_not_found)
        }
        ["openapi", "v3", "apis", g, v] if get => {
            openapi::group_version(&app.store.lock().registry, g, v)
                .map(|d| json_response(200, &d))
                .ok_or_else(ApiError::path_not_found)
        }
        ["api", "v1", rest @ ..] => {
            let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
            resource(app, req, "", "v1", &rest, &query).await
        }
        ["apis", g, v, rest @ ..] => {
            let (g, v) = (g.to_string(), v.to_string());
            let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
            resource(app, req, &g, &v, &rest, &query).await
        }
        _ => Err(ApiError::path_not_found()),
    }
}

/// A parsed resource path.
struct Target {
    rt: Arc<ResourceType>,
    ns: Option<String>,
    name: Option<String>,
    sub: Sub,
}

fn parse_target(
    app: &App,
    group: &str,
    version: &str,
    rest: &[String],
) -> Result<Target, ApiError> {
    let (ns, plural, name, sub) = match rest {
        [n, ns, plural, tail @ ..]
            if n == "namespaces"
                && !(tail.is_empty() && (plural == "status" || plural == "finalize")) =>
        {
            if tail.len() > 2 {
                return Err(ApiError::path_not_found());
            }
            (
                Some(ns.clone()),
                plural.clone(),
                tail.first().cloned(),
                tail.get(1).cloned(),
            )
        }
        [plural, tail @ ..] if tail.len() <= 2 => (
            None,
            plural.clone(),
            tail.first().cloned(),
            tail.get(1).cloned(),
        ),
        _ => return Err(ApiError::path_not_found()),
    };
    let rt = app
        .store
        .lock()
        .registry
        .get(group, version, &plural)
        .ok_or_else(ApiError::path_not_found)?;
    if ns.is_some() && !rt.namespaced {
        return Err(ApiError::path_not_found());
    }
    let sub = match sub.as_deref() {
        None => Sub::Main,
        Some("status") if rt.status => Sub::Status,
        Some("finalize") if rt.plural == "namespaces" && rt.group.is_empty() => Sub::Main,
        Some(_) => return Err(ApiError::path_not_found()),
    };
    Ok(Target { rt, ns, name, sub })
}

fn media_type(req: &Request<Incoming>) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

async fn body_bytes(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    req.into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))
}

/// Decodes a create/update body by its media type.
fn decode(media: &str, body: &[u8]) -> Result<Value, ApiError> {
    match media {
        "application/json" | "" | "*/*" => serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding the request body: {e}"))),
        "application/yaml" | "application/apply-patch+yaml" => serde_yaml_ng::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding the YAML body: {e}"))),
        protobuf::MEDIA_TYPE => protobuf::decode(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding the protobuf body: {e}"))),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

fn write_opts(q: &Query) -> Write {
    Write {
        dry_run: dry_run(q),
        strict: q.get("fieldValidation").is_some_and(|v| v == "Strict"),
        apply: false,
    }
}

fn dry_run(q: &Query) -> bool {
    q.get("dryRun").is_some_and(|v| v == "All")
}

fn flag(q: &Query, k: &str) -> bool {
    q.get(k).is_some_and(|v| v == "true" || v == "1")
}

async fn resource(
    app: &Arc<App>,
    req: Request<Incoming>,
    group: &str,
    version: &str,
    rest: &[String],
    q: &Query,
) -> Result<Response<Body>, ApiError> {
    let t = parse_target(app, group, version, rest)?;
    let ns = t.ns.clone().unwrap_or_default();
    let as_table = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(table::wanted)
        .then(|| table::Include::parse(q.get("includeObject").map(String::as_str)));
    let as_meta = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.split(',')
                .next()
                .is_some_and(|f| f.contains("as=PartialObjectMetadata"))
        });
    let out = |obj: &Value| -> Value {
        let shown = present(&t.rt, obj);
        if as_meta {
            partial(&shown)
        } else {
            shown.into_owned()
        }
    };
    let method = req.method().clone();
    if t.rt.review {
        if method != Method::POST || t.name.is_some() {
            return Err(ApiError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            ));
        }
        let media = media_type(&req);
        let body = body_bytes(req).await?;
        // The answer does not depend on the question, so a protobuf spec need not be decoded.
        let review = if media == protobuf::MEDIA_TYPE {
            json!({"metadata": {}, "spec": {}})
        } else {
            decode(&media, &body)?
        };
        return Ok(json_response(201, &answer_review(&t.rt, review)));
    }
    match (method, t.name.clone()) {
        (Method::GET, None) if flag(q, "watch") => watch_response(app, &t, q, as_table, as_meta),
        (Method::GET, None) => list(app, &t, q, as_table, as_meta),
        (Method::GET, Some(name)) => {
            let obj = app.store.lock().get(&t.rt, &ns, &name)?;
            let shown = present(&t.rt, &obj);
            Ok(match as_table {
                Some(include) => json_response(
                    200,
                    &table::table(
                        &t.rt,
                        &[&shown],
                        json!({"resourceVersion": shown["metadata"]["resourceVersion"]}),
                        include,
                        true,
                    ),
                ),
                None => json_response(200, &out(&obj)),
            })
        }
        (Method::POST, None) => {
            let media = media_type(&req);
            let body = body_bytes(req).await?;
            let obj = decode(&media, &body)?;
            let created = app.store.lock().create(&t.rt, &ns, obj, write_opts(q))?;
            Ok(json_response(201, &out(&created)))
        }
        (Method::PUT, Some(name)) => {
            let media = media_type(&req);
            let body = body_bytes(req).await?;
            let obj = decode(&media, &body)?;
            let updated = app
                .store
                .lock()
                .update(&t.rt, &ns, &name, obj, t.sub, write_opts(q))?;
            Ok(json_response(200, &out(&updated)))
        }
        (Method::PATCH, Some(name)) => {
            let media = media_type(&req);
            let body = body_bytes(req).await?;
            if media == patch::APPLY {
                let manager = q
                    .get("fieldManager")
                    .filter(|m| !m.is_empty())
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "PatchOptions",
                            "meta.k8s.io",
                            "",
                            vec![(
                                "FieldValueRequired".into(),
                                "Required value: is required for apply patch".into(),
                                "fieldManager".into(),
                            )],
                        )
                    })?;
                let config = decode(&media, &body)?;
                let (obj, created) = apply::apply(
                    &mut app.store.lock(),
                    &t.rt,
                    &ns,
                    &name,
                    config,
                    manager,
                    flag(q, "force"),
                    t.sub,
                    write_opts(q),
                )?;
                return Ok(json_response(if created { 201 } else { 200 }, &out(&obj)));
            }
            let mut state = app.store.lock();
            let current = state.get(&t.rt, &ns, &name)?;
            let mut doc = present(&t.rt, &current).into_owned();
            patch::apply(&media, t.rt.custom, &mut doc, &body)?;
            let updated = state.update(&t.rt, &ns, &name, doc, t.sub, write_opts(q))?;
            Ok(json_response(200, &out(&updated)))
        }
        (Method::DELETE, Some(name)) => {
            let media = media_type(&req);
            let body = body_bytes(req).await?;
            let opts: Value = if body.is_empty() {
                json!({})
            } else {
                decode(&media, &body)?
            };
            let dry = dry_run(q)
                || opts["dryRun"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|v| v == "All"));
            let pre = &opts["preconditions"];
            let result = app.store.lock().delete(
                &t.rt,
                &ns,
                &name,
                pre["uid"].as_str(),
                pre["resourceVersion"].as_str(),
                dry,
            )?;
            Ok(match result {
                Deleted::Pending(o) => {
                    let accepted = !dry && opts["orphanDependents"] == json!(false);
                    json_response(if accepted { 202 } else { 200 }, &present(&t.rt, &o))
                }
                Deleted::Gone(o) => json_response(
                    200,
                    &status::success_deleted(
                        &name,
                        &t.rt.group,
                        &t.rt.plural,
                        o["metadata"]["uid"].as_str().unwrap_or(""),
                    ),
                ),
            })
        }
        (Method::DELETE, None) => {
            let labels =
                LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or(""))?;
            let fields =
                FieldSelector::parse(q.get("fieldSelector").map(String::as_str).unwrap_or(""))?;
            let dry = dry_run(q);
            let mut state = app.store.lock();
            let page = state.list(
                &t.rt,
                t.ns.as_deref(),
                &|o| labels.matches(o) && fields.matches(o),
                0,
                None,
            );
            let mut items = Vec::new();
            for o in page.items {
                let oname = o["metadata"]["name"].as_str().unwrap_or("").to_string();
                let ons = o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                match state.delete(&t.rt, &ons, &oname, None, None, dry)? {
                    Deleted::Pending(p) | Deleted::Gone(p) => items.push(p),
                }
            }
            let rv = state.rv;
            drop(state);
            Ok(full(
                200,
                "application/json",
                list_body(&t.rt, &items, rv, None, 0),
            ))
        }
        _ => Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        )),
    }
}

fn encode_continue(ns: &str, name: &str, rv: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json!([ns, name, rv]).to_string())
}

/// The start key and the resourceVersion of the first page.
fn decode_continue(token: &str) -> Result<((String, String), u64), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    match (v[0].as_str(), v[1].as_str(), v[2].as_u64()) {
        (Some(ns), Some(name), Some(rv)) => Ok(((ns.to_string(), name.to_string()), rv)),
        _ => Err(bad()),
    }
}

/// Writes a `XList` body without building it as one big `Value`.
fn list_body(
    rt: &ResourceType,
    items: &[Obj],
    rv: u64,
    next: Option<String>,
    remaining: usize,
) -> Vec<u8> {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some(c) = next {
        metadata["continue"] = json!(c);
        metadata["remainingItemCount"] = json!(remaining);
    }
    let head =
        json!({"kind": rt.list_kind(), "apiVersion": rt.api_version(), "metadata": metadata});
    let head = serde_json::to_string(&head).unwrap_or_default();
    let mut out = Vec::with_capacity(256 + items.len() * 512);
    out.extend_from_slice(&head.as_bytes()[..head.len().saturating_sub(1)]);
    out.extend_from_slice(b",\"items\":[");
    for (i, o) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = serde_json::to_writer(&mut out, &*present(rt, o));
    }
    out.extend_from_slice(b"]}");
    out
}

/// Answers a self-review as the sandbox's administrator token sees it (RBAC, when enabled, only
/// restricts service-account tokens): the user may do anything, which is what
/// `kubectl auth can-i` and `kubectl auth whoami` then report.
fn answer_review(rt: &ResourceType, mut review: Value) -> Value {
    review["apiVersion"] = json!(rt.api_version());
    review["kind"] = json!(rt.kind);
    review["status"] = match rt.plural.as_str() {
        "selfsubjectaccessreviews" => {
            json!({"allowed": true, "reason": "kube-sandbox does not enforce RBAC"})
        }
        "selfsubjectrulesreviews" => json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        }),
        _ => json!({"userInfo": {"username": "sandbox-admin",
                                 "groups": ["system:masters", "system:authenticated"]}}),
    };
    review
}

/// `PartialObjectMetadata` of an object (kube-rs metadata APIs).
pub fn partial(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

fn list(
    app: &Arc<App>,
    t: &Target,
    q: &Query,
    as_table: Option<table::Include>,
    as_meta: bool,
) -> Result<Response<Body>, ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or(""))?;
    let fields = FieldSelector::parse(q.get("fieldSelector").map(String::as_str).unwrap_or(""))?;
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(0);
    let (start, first_rv) = match q.get("continue").filter(|c| !c.is_empty()) {
        Some(c) => {
            let (key, rv) = decode_continue(c)?;
            (Some(key), Some(rv))
        }
        None => (None, None),
    };
    let mut page = {
        let state = app.store.lock();
        // Later pages report the first page's version, so that a watch from it replays every
        // change made while the pages were read (pages themselves show the current state).
        if let Some(rv) = first_rv
            && rv < state.history_floor
        {
            return Err(ApiError::expired(
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
            ));
        }
        state.list(
            &t.rt,
            t.ns.as_deref(),
            &|o| labels.matches(o) && fields.matches(o),
            limit,
            start,
        )
    };
    if let Some(rv) = first_rv {
        page.rv = rv;
    }
    let next = page
        .next
        .as_ref()
        .map(|(ns, n)| encode_continue(ns, n, page.rv));
    if let Some(include) = as_table {
        let shown: Vec<_> = page.items.iter().map(|o| present(&t.rt, o)).collect();
        let refs: Vec<&Value> = shown.iter().map(|c| c.as_ref()).collect();
        let mut metadata = json!({"resourceVersion": page.rv.to_string()});
        if let Some(c) = next {
            metadata["continue"] = json!(c);
            metadata["remainingItemCount"] = json!(page.remaining);
        }
        return Ok(json_response(
            200,
            &table::table(&t.rt, &refs, metadata, include, true),
        ));
    }
    if as_meta {
        let items: Vec<Value> = page
            .items
            .iter()
            .map(|o| partial(&present(&t.rt, o)))
            .collect();
        let mut metadata = json!({"resourceVersion": page.rv.to_string()});
        if let Some(c) = next {
            metadata["continue"] = json!(c);
        }
        return Ok(json_response(
            200,
            &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                    "metadata": metadata, "items": items}),
        ));
    }
    Ok(full(
        200,
        "application/json",
        list_body(&t.rt, &page.items, page.rv, next, page.remaining),
    ))
}

fn watch_response(
    app: &Arc<App>,
    t: &Target,
    q: &Query,
    as_table: Option<table::Include>,
    as_meta: bool,
) -> Result<Response<Body>, ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or(""))?;
    let fields = FieldSelector::parse(q.get("fieldSelector").map(String::as_str).unwrap_or(""))?;
    let rv = match q.get("resourceVersion").map(String::as_str) {
        None | Some("") | Some("0") => None,
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {s:?}")))?,
        ),
    };
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(1800);
    let rx = watch::start(
        app.store.clone(),
        t.rt.clone(),
        WatchParams {
            ns: t.ns.clone(),
            labels,
            fields,
            rv,
            bookmarks: flag(q, "allowWatchBookmarks"),
            send_initial_events: flag(q, "sendInitialEvents"),
            timeout: Duration::from_secs(timeout),
            table: as_table,
            meta_only: as_meta,
        },
    );
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut r = Response::new(StreamBody::new(stream).boxed_unsync());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}
