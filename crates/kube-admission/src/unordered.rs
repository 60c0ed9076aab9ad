//! CEL lists whose equality ignores order: Kubernetes compares `x-kubernetes-list-type: set`
//! and `map` lists as the sets and maps they are, so `self == oldSelf` holds after a reorder.

use cel::common::traits::{Adder, Container, Indexer, Iterable, Sizer, Zeroer};
use cel::common::types::{CelList, LIST_TYPE, Type};
use cel::common::value::{Builtin, BuiltinRef, Val};

#[derive(Debug, Clone)]
pub(crate) struct UnorderedList<'v>(pub CelList<'v>);

fn elements<'b, 'v>(v: &'b (dyn Val + 'v)) -> Option<Vec<&'b (dyn Val + 'v)>> {
    let mut it = v.as_iterable()?.iter();
    let mut out = Vec::new();
    while let Some(x) = it.next() {
        out.push(x);
    }
    Some(out)
}

impl<'v> Val for UnorderedList<'v> {
    fn get_type(&self) -> &Type {
        &LIST_TYPE
    }

    fn cel_type() -> &'static Type {
        &LIST_TYPE
    }

    fn as_adder<'b, 'w>(&'b self) -> Option<&'b (dyn Adder + 'w)>
    where
        Self: 'w,
    {
        self.0.as_adder()
    }

    fn as_container(&self) -> Option<&dyn Container> {
        self.0.as_container()
    }

    fn as_indexer<'b, 'w>(&'b self) -> Option<&'b (dyn Indexer + 'w)>
    where
        Self: 'w,
    {
        self.0.as_indexer()
    }

    fn into_indexer<'w>(self: Box<Self>) -> Option<Box<dyn Indexer + 'w>>
    where
        Self: 'w,
    {
        Box::new(self.0).into_indexer()
    }

    fn as_iterable<'b, 'w>(&'b self) -> Option<&'b (dyn Iterable + 'w)>
    where
        Self: 'w,
    {
        self.0.as_iterable()
    }

    fn as_sizer(&self) -> Option<&dyn Sizer> {
        self.0.as_sizer()
    }

    fn as_zeroer(&self) -> Option<&dyn Zeroer> {
        self.0.as_zeroer()
    }

    /// Multiset equality: same length, and every element matched by a distinct equal one.
    fn equals(&self, other: &dyn Val) -> bool {
        let (Some(mine), Some(theirs)) = (elements(&self.0), elements(other)) else {
            return false;
        };
        if mine.len() != theirs.len() {
            return false;
        }
        let mut used = vec![false; theirs.len()];
        mine.iter().all(|a| {
            let found = theirs
                .iter()
                .enumerate()
                .find(|(i, b)| !used[*i] && a.equals(**b));
            match found {
                Some((i, _)) => {
                    used[i] = true;
                    true
                }
                None => false,
            }
        })
    }

    fn clone_as_boxed<'w>(&self) -> Box<dyn Val + 'w>
    where
        Self: 'w,
    {
        Box::new(self.clone())
    }

    fn as_builtin<'b, 'w>(&'b self) -> BuiltinRef<'b, 'w>
    where
        Self: 'w,
    {
        BuiltinRef::List(&self.0)
    }

    fn into_builtin<'w>(self: Box<Self>) -> Option<Builtin<'w>>
    where
        Self: 'w,
    {
        Some(Builtin::List(self.0))
    }
}
