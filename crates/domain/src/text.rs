//! What text can be kept. PostgreSQL stores neither `text` nor `jsonb` with a
//! NUL character (U+0000) in it, so text that arrives from users is refused
//! with it, and text that arrives from upstreams has it replaced.

/// Whether `s` can be stored as it is.
#[must_use]
pub fn is_storable(s: &str) -> bool {
    !s.contains('\0')
}

/// Whether every string and key inside `value` can be stored.
#[must_use]
pub fn is_storable_json(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => is_storable(s),
        serde_json::Value::Array(items) => items.iter().all(is_storable_json),
        serde_json::Value::Object(map) => map
            .iter()
            .all(|(k, v)| is_storable(k) && is_storable_json(v)),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => true,
    }
}

/// `s` with each NUL replaced by U+FFFD, the replacement character.
#[must_use]
pub fn make_storable(s: String) -> String {
    if is_storable(&s) {
        s
    } else {
        s.replace('\0', "\u{FFFD}")
    }
}

/// `value` with each NUL in its strings and keys replaced by U+FFFD.
#[must_use]
pub fn make_storable_json(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(make_storable(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(make_storable_json).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (make_storable(k), make_storable_json(v)))
                .collect(),
        ),
        other @ (Value::Null | Value::Bool(_) | Value::Number(_)) => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nul_anywhere_in_json_makes_it_unstorable() {
        assert!(is_storable_json(&json!({"a": [1, "b", {"c": null}]})));
        assert!(!is_storable_json(&json!({"a": [1, "b\u{0}"]})));
        assert!(!is_storable_json(&json!({"a\u{0}": 1})));
    }

    #[test]
    fn nul_is_replaced_and_everything_else_kept() {
        assert_eq!(make_storable("a\0b\0".into()), "a\u{FFFD}b\u{FFFD}");
        assert_eq!(make_storable("ünïcode\n\t".into()), "ünïcode\n\t");
        assert_eq!(
            make_storable_json(json!({"k\u{0}": ["v\u{0}", 1, true]})),
            json!({"k\u{FFFD}": ["v\u{FFFD}", 1, true]})
        );
    }
}
