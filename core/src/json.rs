//! The one way the core reads JSON from outside: strictly, and describing errors
//! without repeating what it read.
//!
//! `serde_json` keeps the last of two equal keys in an object (a map, a
//! `serde_json::Value`), so `{"at": A, "at": B}` reads as B: a signer and a verifier,
//! or a producer and a reviewer, could then see different documents in the same bytes.
//! Every document the core reads from outside (trust roots, bundles, indicator
//! collections, instructions, trace lines, snapshots, evidence, checkpoints, stored
//! anchors) goes through [`from_slice`] or [`from_str`], which refuse any object that
//! names a key twice, at any depth, before the document is read into its type.
//!
//! [`describe`] turns a `serde_json` error into a message that names the place (line
//! and column) and this format's own vocabulary, never the input: an unknown field's
//! name is shown only when it cannot carry an identifier (a short run of letters and
//! underscores, the typical misspelling), and values never.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Reads `bytes` as one JSON document of type `T`, refusing duplicate keys anywhere.
pub fn from_slice<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> serde_json::Result<T> {
    check_unique_keys(bytes)?;
    serde_json::from_slice(bytes)
}

/// [`from_slice`] on text.
pub fn from_str<'a, T: Deserialize<'a>>(text: &'a str) -> serde_json::Result<T> {
    from_slice(text.as_bytes())
}

/// Checks that `bytes` is one JSON document in which no object names a key twice.
/// Syntax errors are reported as `serde_json` reports them.
pub fn check_unique_keys(bytes: &[u8]) -> serde_json::Result<()> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Unique.deserialize(&mut de)?;
    de.end()
}

/// Whether `name` can be shown in a message: 1 to 32 ASCII letters and underscores. Such
/// a name cannot hold an identifier (no digits) or drive a terminal.
pub fn is_showable_name(name: &str) -> bool {
    (1..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_')
}

/// Walks any JSON value, refusing an object that names a key twice. A seed, so readers
/// that deserialize only the fields they need can skip the rest strictly.
#[derive(Clone, Copy)]
pub(crate) struct Unique;

impl<'de> DeserializeSeed<'de> for Unique {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// Objects with more keys than this are checked with a hash set, smaller ones by a
/// scan of the keys seen, which is faster for the few keys most objects have.
const SCAN_LIMIT: usize = 16;

impl<'de> Visitor<'de> for Unique {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i128<E>(self, _: i128) -> Result<(), E> {
        Ok(())
    }
    fn visit_u128<E>(self, _: u128) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Unique)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys = KeySet::default();
        while let Some(Key(key)) = map.next_key()? {
            keys.insert::<A::Error>(key)?;
            map.next_value_seed(Unique)?;
        }
        Ok(())
    }
}

/// The keys of one object seen so far; refuses a repeated one.
#[derive(Default)]
pub(crate) struct KeySet<'de> {
    few: Vec<Cow<'de, str>>,
    many: HashSet<Cow<'de, str>>,
}

impl<'de> KeySet<'de> {
    /// Records `key`, or fails with the duplicate-key error if it was seen.
    pub(crate) fn insert<E: de::Error>(&mut self, key: Cow<'de, str>) -> Result<(), E> {
        let repeated = if self.many.is_empty() && self.few.len() < SCAN_LIMIT {
            let repeated = self.few.contains(&key);
            if !repeated {
                self.few.push(key.clone());
            }
            repeated
        } else {
            if self.many.is_empty() {
                self.many.extend(self.few.drain(..));
            }
            !self.many.insert(key.clone())
        };
        if repeated {
            return Err(E::custom(if is_showable_name(&key) {
                format!("duplicate key `{key}`")
            } else {
                "duplicate key".to_owned()
            }));
        }
        Ok(())
    }
}

/// An object key, borrowed from the input when it has no escapes.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A `serde_json` error as a message that repeats nothing from the input: what went wrong
/// in this format's words, then `at line L column C`.
pub fn describe(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Data => describe_data(&e.to_string()),
        serde_json::error::Category::Eof => "unexpected end of input".to_owned(),
        serde_json::error::Category::Syntax => "not valid JSON".to_owned(),
        serde_json::error::Category::Io => "the input could not be read".to_owned(),
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// The message of a data error (the input is JSON, but not of the expected shape),
/// without its position, rewritten so that no input survives.
///
/// serde writes these as `<what>, expected <what this format wanted>`; the part after the
/// last `, expected ` is this format's vocabulary and kept. Before it:
/// - `unknown field `X`` and `unknown variant `X``: X is input; shown when
///   [`is_showable_name`], otherwise the message names the place only;
/// - `invalid type: <kind> <value>` and `invalid value: <kind> <value>`: the kind (string,
///   integer, ...) is kept, the value dropped;
/// - `missing field`, `duplicate field` and `duplicate key` name this format's own fields
///   (or a key already shown as showable) and are kept;
/// - anything else (a custom message of one of the core's types) keeps its words, with
///   quoted text dropped and identifier-shaped digit runs redacted.
pub fn describe_data(message: &str) -> String {
    let message = message.rsplit_once(" at line ").map_or(message, |(m, _)| m);
    let (head, tail) = match message.rfind(", expected ") {
        Some(at) => message.split_at(at),
        None => (message, ""),
    };
    let head = if let Some(rest) = head
        .strip_prefix("unknown field `")
        .or_else(|| head.strip_prefix("unknown variant `"))
    {
        let kind = if head.starts_with("unknown field") {
            "unknown field"
        } else {
            "unknown variant"
        };
        match rest.strip_suffix('`') {
            Some(name) if is_showable_name(name) => format!("{kind} `{name}`"),
            _ => kind.to_owned(),
        }
    } else if let Some((kind, rest)) = head
        .strip_prefix("invalid type: ")
        .map(|r| ("invalid type", r))
        .or_else(|| {
            head.strip_prefix("invalid value: ")
                .map(|r| ("invalid value", r))
        })
        .or_else(|| {
            head.strip_prefix("invalid length ")
                .map(|r| ("invalid length", r))
        })
    {
        // `string "…"`, `integer `5``, `floating point `1.5``, `map`, ...: the words before
        // the first quote.
        let words = rest
            .split(['"', '`', '\''])
            .next()
            .unwrap_or("")
            .trim()
            .trim_end_matches(',');
        let words: String = words
            .chars()
            .filter(|c| c.is_ascii_alphabetic() || *c == ' ')
            .collect();
        let words = words.trim();
        if words.is_empty() || kind == "invalid length" {
            kind.to_owned()
        } else {
            format!("{kind}: {words}")
        }
    } else if head.starts_with("missing field `")
        || head.starts_with("duplicate field `")
        || head.starts_with("duplicate key")
    {
        head.to_owned()
    } else {
        drop_quoted(head)
    };
    let message = format!("{head}{tail}");
    crate::redact::redact_identifiers(&crate::redact::sanitize(&message)).into_owned()
}

/// Replaces every quoted run (`"…"`, `` `…` ``) with `…`.
fn drop_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut inside: Option<char> = None;
    for c in text.chars() {
        match inside {
            Some(q) if c == q => {
                out.push('…');
                out.push(q);
                inside = None;
            }
            Some(_) => {}
            None if c == '"' || c == '`' => {
                out.push(c);
                inside = Some(c);
            }
            None => out.push(c),
        }
    }
    if inside.is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":{"b":1,"c":2,"b":3}}"#,
            r#"[{"x":[{"y":1,"y":1}]}]"#,
            r#"{"a\u0062":1,"ab":2}"#,
        ] {
            let err = check_unique_keys(text.as_bytes()).unwrap_err();
            assert!(
                describe(&err).starts_with("duplicate key"),
                "{text}: {}",
                describe(&err)
            );
            assert!(from_str::<serde_json::Value>(text).is_err(), "{text}");
        }
        // Many keys switch to a hash set; the check still holds.
        let mut wide: String = (0..100).map(|i| format!("\"k{i}\":{i},")).collect();
        wide.insert(0, '{');
        wide.push_str("\"k7\":0}");
        assert!(check_unique_keys(wide.as_bytes()).is_err());
        assert!(check_unique_keys(wide.replace("\"k7\":0", "\"k100\":0").as_bytes()).is_ok());
        // Equal keys in different objects are fine.
        assert!(check_unique_keys(br#"{"a":{"a":1},"b":[{"a":1},{"a":2}]}"#).is_ok());
    }

    #[test]
    fn a_map_keeps_no_second_entry() {
        let err = from_str::<BTreeMap<String, u8>>(r#"{"k":1,"k":2}"#).unwrap_err();
        assert_eq!(describe(&err), "duplicate key `k` at line 1 column 10");
        let err = from_str::<BTreeMap<String, u8>>(
            r#"{"8944110012345678901":1,"8944110012345678901":2}"#,
        )
        .unwrap_err();
        let message = describe(&err);
        assert!(!message.contains("8944"), "{message}");
    }

    #[test]
    fn messages_repeat_no_input() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Doc {
            name: String,
            count: u8,
            state: State,
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum State {
            Ready,
        }
        let cases = [
            (
                r#"{"horm`nd, eA@eroid":"x"}"#,
                "unknown field, expected",
                "eroid",
            ),
            (
                r#"{"8944110012345678901":"x"}"#,
                "unknown field, expected",
                "8944",
            ),
            (
                r#"{"nmae":"x"}"#,
                "unknown field `nmae`, expected one of",
                "\u{0}",
            ),
            (
                r#"{"name":"+44 7700 900123","count":"8944-1100","state":"ready"}"#,
                "invalid type: string, expected u8",
                "8944",
            ),
            (
                r#"{"name":"a","count":300,"state":"ready"}"#,
                "invalid value: integer, expected u8",
                "300",
            ),
            (
                r#"{"name":"a","count":3,"state":"8944 1100 1234 5678 901"}"#,
                "unknown variant, expected",
                "8944",
            ),
            (
                r#"{"name":"a","count":3,"state":"ｒeady"}"#,
                "unknown variant, expected",
                "ｒ",
            ),
            (
                r#"{"name":"a","count":3}"#,
                "missing field `state`",
                "\u{0}",
            ),
            (
                r#"{"name":"a","name":"b"}"#,
                "duplicate key `name`",
                "\u{0}",
            ),
        ];
        for (text, expected, secret) in cases {
            let err = from_str::<Doc>(text).unwrap_err();
            let message = describe(&err);
            assert!(message.contains(expected), "{text}: {message}");
            assert!(!message.contains(secret), "{text}: {message}");
        }
    }
}
