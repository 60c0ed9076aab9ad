//! Process-wide caches of compiled regexes and CEL programs, keyed by their source text, so that
//! admitting an object never recompiles what an earlier write already compiled.

use cel::{Env, Program, extensions};
use regex::Regex;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Bound on each cache: schemas come from CRDs, so a handful of entries is the norm; the bound
/// only guards against unbounded growth from CRDs that churn.
const MAX_ENTRIES: usize = 4096;

type Compiled<T> = Arc<Result<T, String>>;

fn lookup<T>(
    cache: &Mutex<HashMap<String, Compiled<T>>>,
    key: &str,
    compile: impl FnOnce() -> Result<T, String>,
) -> Compiled<T> {
    if let Ok(map) = cache.lock()
        && let Some(hit) = map.get(key)
    {
        return hit.clone();
    }
    let compiled = Arc::new(compile());
    if let Ok(mut map) = cache.lock() {
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key.to_string(), compiled.clone());
    }
    compiled
}

/// The compiled regex for a schema `pattern`, or the compiler's message.
pub(crate) fn regex(pattern: &str) -> Compiled<Regex> {
    static CACHE: OnceLock<Mutex<HashMap<String, Compiled<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    lookup(cache, pattern, || {
        Regex::new(pattern).map_err(|e| e.to_string())
    })
}

/// The CEL environment: the standard library plus the strings, lists and math extensions that
/// Kubernetes also offers.
pub(crate) fn cel_env() -> Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib();
        // Extensions only fail on duplicate declarations, which a fresh stdlib cannot have.
        let _ = env.add_extension(extensions::strings);
        let _ = env.add_extension(extensions::lists);
        let _ = env.add_extension(extensions::math);
        crate::library::register(&mut env);
        Arc::new(env)
    })
    .clone()
}

/// A compiled CEL expression and whether it is a transition rule (refers to `oldSelf`).
pub(crate) struct CelExpr {
    pub program: Program,
    pub uses_old_self: bool,
}

/// The compiled CEL program for an expression, or the parser's message.
pub(crate) fn cel_program(source: &str) -> Compiled<CelExpr> {
    static CACHE: OnceLock<Mutex<HashMap<String, Compiled<CelExpr>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    lookup(cache, source, || {
        let program = cel_env().compile(source).map_err(|e| e.to_string())?;
        let uses_old_self = program.references().has_variable("oldSelf");
        Ok(CelExpr {
            program,
            uses_old_self,
        })
    })
}

/// The parsed schema for an `openAPIV3Schema`, reused while the same schema keeps coming: the
/// lookup compares JSON (no allocation), which is far cheaper than parsing it again.
pub(crate) fn crd_schema(schema: &serde_json::Value) -> Arc<crate::CrdSchema> {
    /// A sandbox serves a handful of CRD versions; older entries are evicted first.
    const MAX_SCHEMAS: usize = 32;
    type Entries = Vec<(serde_json::Value, Arc<crate::CrdSchema>)>;
    static CACHE: OnceLock<Mutex<Entries>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Ok(mut entries) = cache.lock()
        && let Some(i) = entries.iter().position(|(k, _)| k == schema)
    {
        let hit = entries.remove(i);
        let parsed = hit.1.clone();
        entries.push(hit);
        return parsed;
    }
    let parsed = Arc::new(crate::CrdSchema::new(schema));
    if let Ok(mut entries) = cache.lock() {
        if entries.len() >= MAX_SCHEMAS {
            entries.remove(0);
        }
        entries.push((schema.clone(), parsed.clone()));
    }
    parsed
}
