//! Kubernetes events about a resource, handed to the bounded publisher (see `publisher`).

use super::Context;
use kube::Resource;
use kube::runtime::events::EventType;

/// Publishes one event about any of the operator's resources.
pub(crate) async fn publish<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    sp: &K,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    let note = truncate(note, MAX_NOTE_BYTES);
    ctx.publisher
        .publish(sp.object_ref(&()), type_, reason, note);
}

/// Event notes are cut to this many bytes (the API server rejects notes over 1 KiB).
pub(crate) const MAX_NOTE_BYTES: usize = 1024;

/// `s` cut to at most `max` bytes, at a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn notes_are_cut_in_bytes_at_a_character_boundary() {
        assert_eq!(truncate("abc", 1024), "abc");
        let long = "é".repeat(600); // 1,200 bytes
        let cut = truncate(&long, 1024);
        assert!(cut.len() <= 1024 && cut.len() >= 1023, "{}", cut.len());
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
