//! The Kubernetes CEL libraries rules commonly use that the `cel` crate lacks: lists
//! (`isSorted`, `sum`, `min`, `max`, `indexOf`, `lastIndexOf`), sets (`sets.contains`,
//! `sets.equivalent`, `sets.intersects`) and regex (`find`, `findAll`).

use crate::cache;
use cel::common::types::{DYN_TYPE, INT_TYPE, LIST_TYPE, STRING_TYPE};
use cel::common::value::{CowVal, Val};
use cel::{Env, ExecutionError, Value};
use std::cmp::Ordering;
use std::sync::Arc;

type Args<'b, 'v> = Vec<CowVal<'b, 'v>>;
type Ret<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

fn values(args: &[CowVal<'_, '_>]) -> Result<Vec<Value>, ExecutionError> {
    args.iter().map(|a| Value::try_from(a.as_ref())).collect()
}

fn ret<'b, 'v>(v: Value) -> Ret<'b, 'v> {
    let boxed: Box<dyn Val> = v.try_into()?;
    Ok(CowVal::Owned(boxed))
}

fn list_arg(v: &Value, function: &str) -> Result<Arc<Vec<Value>>, ExecutionError> {
    match v {
        Value::List(l) => Ok(l.clone()),
        other => Err(ExecutionError::no_such_overload(
            function,
            vec![other.type_of().to_string()],
        )),
    }
}

fn string_arg<'a>(v: &'a Value, function: &str) -> Result<&'a str, ExecutionError> {
    match v {
        Value::String(s) => Ok(s.as_str()),
        other => Err(ExecutionError::no_such_overload(
            function,
            vec![other.type_of().to_string()],
        )),
    }
}

fn compare(a: &Value, b: &Value, function: &str) -> Result<Ordering, ExecutionError> {
    a.partial_cmp(b).ok_or_else(|| {
        ExecutionError::no_such_overload(
            function,
            vec![a.type_of().to_string(), b.type_of().to_string()],
        )
    })
}

fn is_sorted<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let v = values(&args)?;
    let list = list_arg(&v[0], "isSorted")?;
    for pair in list.windows(2) {
        if compare(&pair[0], &pair[1], "isSorted")? == Ordering::Greater {
            return ret(Value::Bool(false));
        }
    }
    ret(Value::Bool(true))
}

fn sum<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let v = values(&args)?;
    let list = list_arg(&v[0], "sum")?;
    let mut items = list.iter().cloned();
    let Some(first) = items.next() else {
        return ret(Value::Int(0));
    };
    let total = items.try_fold(first, |acc, x| acc + x)?;
    ret(total)
}

fn extreme<'b, 'v>(args: Args<'b, 'v>, name: &str, keep: Ordering) -> Ret<'b, 'v> {
    let v = values(&args)?;
    let list = list_arg(&v[0], name)?;
    let mut best: Option<Value> = None;
    for x in list.iter() {
        best = match best {
            Some(b) if compare(x, &b, name)? != keep => Some(b),
            _ => Some(x.clone()),
        };
    }
    match best {
        Some(b) => ret(b),
        None => Err(ExecutionError::function_error(
            name,
            format!("{name} called on empty list"),
        )),
    }
}

fn min<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    extreme(args, "min", Ordering::Less)
}

fn max<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    extreme(args, "max", Ordering::Greater)
}

fn index_of<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let v = values(&args)?;
    let list = list_arg(&v[0], "indexOf")?;
    let i = list
        .iter()
        .position(|x| *x == v[1])
        .map_or(-1, |i| i as i64);
    ret(Value::Int(i))
}

fn last_index_of<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let v = values(&args)?;
    let list = list_arg(&v[0], "lastIndexOf")?;
    let i = list
        .iter()
        .rposition(|x| *x == v[1])
        .map_or(-1, |i| i as i64);
    ret(Value::Int(i))
}

fn contains_all(a: &[Value], b: &[Value]) -> bool {
    b.iter().all(|x| a.contains(x))
}

fn sets_contains<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let v = values(&args)?;
    let (a, b) = (
        list_arg(&v[0], "sets.contains")?,
        list_arg(&v[1], "sets.contains")?,
    );
    ret(Value::Bool(contains_all(&a, &b)))
}

fn sets_equivalent<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let v = values(&args)?;
    let (a, b) = (
        list_arg(&v[0], "sets.equivalent")?,
        list_arg(&v[1], "sets.equivalent")?,
    );
    ret(Value::Bool(contains_all(&a, &b) && contains_all(&b, &a)))
}

fn sets_intersects<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let v = values(&args)?;
    let (a, b) = (
        list_arg(&v[0], "sets.intersects")?,
        list_arg(&v[1], "sets.intersects")?,
    );
    ret(Value::Bool(b.iter().any(|x| a.contains(x))))
}

fn regex_matches(
    v: &[Value],
    function: &str,
    limit: Option<i64>,
) -> Result<Vec<Value>, ExecutionError> {
    let text = string_arg(&v[0], function)?;
    let pattern = string_arg(&v[1], function)?;
    let compiled = cache::regex(pattern);
    let re = compiled
        .as_ref()
        .as_ref()
        .map_err(|e| ExecutionError::function_error(function, e))?;
    let limit = match limit {
        Some(n) if n >= 0 => n as usize,
        _ => usize::MAX,
    };
    Ok(re
        .find_iter(text)
        .take(limit)
        .map(|m| Value::String(Arc::new(m.as_str().to_string())))
        .collect())
}

fn find<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let v = values(&args)?;
    let first = regex_matches(&v, "find", Some(1))?.into_iter().next();
    ret(first.unwrap_or_else(|| Value::String(Arc::new(String::new()))))
}

fn find_all<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let v = values(&args)?;
    ret(Value::List(Arc::new(regex_matches(&v, "findAll", None)?)))
}

fn find_all_n<'b, 'v>(args: Args<'b, 'v>) -> Ret<'b, 'v> {
    let v = values(&args)?;
    let n = match v.get(2) {
        Some(Value::Int(n)) => *n,
        _ => -1,
    };
    ret(Value::List(Arc::new(regex_matches(
        &v,
        "findAll",
        Some(n),
    )?)))
}

/// Registers the libraries on `env`; a declaration clash (none with the crate's own
/// extensions) leaves that function out rather than failing.
pub(crate) fn register(env: &mut Env) {
    let members: [(
        &str,
        &str,
        Vec<cel::common::types::Type>,
        cel::common::functions::Function,
    ); 9] = [
        ("isSorted", "k8s_list_is_sorted", vec![], is_sorted),
        ("sum", "k8s_list_sum", vec![], sum),
        ("min", "k8s_list_min", vec![], min),
        ("max", "k8s_list_max", vec![], max),
        ("indexOf", "k8s_list_index_of", vec![DYN_TYPE], index_of),
        (
            "lastIndexOf",
            "k8s_list_last_index_of",
            vec![DYN_TYPE],
            last_index_of,
        ),
        ("find", "k8s_string_find", vec![STRING_TYPE], find),
        (
            "findAll",
            "k8s_string_find_all",
            vec![STRING_TYPE],
            find_all,
        ),
        (
            "findAll",
            "k8s_string_find_all_n",
            vec![STRING_TYPE, INT_TYPE],
            find_all_n,
        ),
    ];
    for (name, id, args, op) in members {
        let target = if id.starts_with("k8s_string") {
            STRING_TYPE
        } else {
            LIST_TYPE
        };
        let _ = env.add_member_overload(name, id, target, args, op);
    }
    let _ = env.add_overload(
        "sets.contains",
        "k8s_sets_contains",
        vec![LIST_TYPE, LIST_TYPE],
        sets_contains,
    );
    let _ = env.add_overload(
        "sets.equivalent",
        "k8s_sets_equivalent",
        vec![LIST_TYPE, LIST_TYPE],
        sets_equivalent,
    );
    let _ = env.add_overload(
        "sets.intersects",
        "k8s_sets_intersects",
        vec![LIST_TYPE, LIST_TYPE],
        sets_intersects,
    );
}
