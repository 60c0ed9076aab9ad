//! Kubernetes names for AWS profile names: AWS allows `[a-zA-Z0-9:_-]{1,128}`, a Kubernetes
//! object name is a DNS-1123 subdomain (lowercase alphanumerics, `-` and `.`, starting and
//! ending alphanumeric, at most 253 characters).

use std::collections::{BTreeMap, HashMap};

/// The longest DNS-1123 subdomain.
const MAX_LEN: usize = 253;

/// The DNS-1123 form of an AWS name: lowercase, `_` and `:` become `-`, leading and trailing
/// `-` trimmed, cut to 253 characters; `profile` when nothing is left.
pub fn dns1123(aws_name: &str) -> String {
    let mapped: String = aws_name
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '.' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let cut: String = trimmed.chars().take(MAX_LEN).collect();
    let cut = cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    if cut.is_empty() {
        "profile".to_string()
    } else {
        cut.to_string()
    }
}

/// A short hash of the AWS name (FNV-1a, 32 bits, 6 hex digits): the same name always gets
/// the same suffix, whatever else the account holds.
fn suffix(aws_name: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in aws_name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{:06x}", h & 0x00ff_ffff)
}

/// Kubernetes names for a set of AWS names, unique among them. A name whose DNS-1123 form is
/// shared with another keeps that form only if it is the AWS name itself; the others get `-`
/// and a stable suffix of their AWS name.
pub fn kube_names<'a>(aws_names: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, String> {
    let aws_names: Vec<&str> = aws_names.into_iter().collect();
    let mut by_form: HashMap<String, Vec<&str>> = HashMap::new();
    for name in &aws_names {
        by_form.entry(dns1123(name)).or_default().push(name);
    }
    let mut out = BTreeMap::new();
    for (form, names) in by_form {
        for name in names.iter().copied() {
            let kube = if names.len() == 1 || name == form {
                form.clone()
            } else {
                let s = suffix(name);
                let stem: String = form.chars().take(MAX_LEN - s.len() - 1).collect();
                format!(
                    "{}-{s}",
                    stem.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                )
            };
            out.insert(name.to_string(), kube);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_dns1123_subdomain(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= MAX_LEN
            && s.split('.').all(|label| {
                !label.is_empty()
                    && label.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && label.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && label
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
    }

    #[test]
    fn aws_names_become_valid_kubernetes_names() {
        assert_eq!(dns1123("edge-fleet"), "edge-fleet");
        assert_eq!(dns1123("Edge_Fleet:v2"), "edge-fleet-v2");
        assert_eq!(dns1123("__x__"), "x");
        assert_eq!(dns1123("___"), "profile");
        for name in ["A", "_a_", "a:b", "X".repeat(128).as_str(), "-_-9"] {
            assert!(is_dns1123_subdomain(&dns1123(name)), "{name}");
        }
    }

    #[test]
    fn collisions_get_stable_suffixes() {
        let names = kube_names(["edge-fleet", "Edge_Fleet", "edge:fleet", "other"]);
        assert_eq!(names["edge-fleet"], "edge-fleet", "a valid name is kept");
        assert_eq!(names["other"], "other");
        let a = &names["Edge_Fleet"];
        let b = &names["edge:fleet"];
        assert!(a.starts_with("edge-fleet-") && b.starts_with("edge-fleet-"));
        assert_ne!(a, b);
        // Stable: the same AWS name gets the same Kubernetes name in another account.
        let again = kube_names(["Edge_Fleet", "EDGE_FLEET"]);
        assert_eq!(&again["Edge_Fleet"], a);
        let unique: std::collections::BTreeSet<_> = names.values().collect();
        assert_eq!(unique.len(), 4);
        assert!(names.values().all(|n| is_dns1123_subdomain(n)));
    }
}
