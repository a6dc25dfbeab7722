//! STIX 2.1 input: the single-comparison patterns of public indicator collections and
//! the bundles that carry them.
//!
//! Public mobile indicator collections (the Mobile Verification Toolkit's format) write
//! every indicator as one comparison, `[object-type:property.path = 'value']`. This
//! module parses exactly that subset of STIX patterning: one observation expression
//! holding one `=` comparison against a quoted string. Anything else (`AND`, `OR`,
//! other operators, qualifiers, non-string literals) is refused with a reason, so a
//! bundle's unusable indicators are reported, never silently dropped.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Error, Result};

/// The longest pattern accepted; public collections stay under 300 bytes.
pub const MAX_PATTERN_BYTES: usize = 8 * 1024;

/// One parsed comparison, `[object_type:path = 'value']`, before it is given a meaning.
///
/// Kept separate from [`Observable`] so the syntax can be checked (and round-tripped)
/// independently of which object types the scanner understands.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    /// The STIX cyber-observable type, e.g. `file` or `domain-name`.
    pub object_type: String,
    /// The property path, one entry per step, quotes removed: `hashes.'SHA-256'` is
    /// `["hashes", "SHA-256"]`. Never empty.
    pub path: Vec<String>,
    /// The compared string, escapes resolved.
    pub value: String,
}

/// Why a pattern (or the indicator carrying it) cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// The pattern exceeds [`MAX_PATTERN_BYTES`].
    #[error("pattern is longer than {MAX_PATTERN_BYTES} bytes")]
    TooLong,
    /// The pattern does not start with `[`.
    #[error("expected `[` at the start of the pattern")]
    MissingOpenBracket,
    /// No object type (or no `:` after it) where one was expected.
    #[error("expected an object type followed by `:` at byte {0}")]
    ObjectType(usize),
    /// A property path step is missing or malformed.
    #[error("expected a property name at byte {0}")]
    Path(usize),
    /// A list step such as `[0]` or `[*]` in the property path.
    #[error("list steps such as `[0]` or `[*]` in a property path are not supported")]
    ListStep,
    /// An operator other than `=`.
    #[error("operator `{0}` is not supported (only `=` is)")]
    Operator(String),
    /// The compared value is not a quoted string (numbers, booleans, `h'..'`, `t'..'`).
    #[error("expected a quoted string value at byte {0} (other literal types are not supported)")]
    Value(usize),
    /// A quoted string never ends.
    #[error("unterminated string starting at byte {0}")]
    UnterminatedString(usize),
    /// A backslash escape other than `\\` or `\'`.
    #[error("invalid escape `\\{0}` in a string (only `\\\\` and `\\'` are allowed)")]
    Escape(char),
    /// Several comparisons joined by `AND` or `OR`.
    #[error("joins comparisons with `{0}`; only single-comparison patterns are supported")]
    Compound(String),
    /// The comparison is not closed by `]`.
    #[error("expected `]` at byte {0}")]
    MissingCloseBracket(usize),
    /// Text after the closing `]`: more observations or a qualifier such as `WITHIN`.
    #[error("unexpected text after `]` at byte {0} (several observations and qualifiers are not supported)")]
    Trailing(usize),
    /// A well-formed comparison on an object or property no scanner rule covers.
    #[error("`{0}` is not a supported indicator type")]
    UnsupportedTarget(String),
    /// A hash algorithm other than SHA-256, SHA-1 or MD5.
    #[error("hash algorithm `{0}` is not supported (SHA-256, SHA-1 and MD5 are)")]
    UnsupportedHash(String),
    /// The value is not valid for its type (e.g. a digest of the wrong length).
    #[error("`{target}` value {problem}")]
    InvalidValue {
        /// The object type and path, e.g. `file:hashes.sha256`.
        target: String,
        /// What is wrong with the value.
        problem: &'static str,
    },
}

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, want: char) -> bool {
        if self.peek() == Some(want) {
            self.pos += want.len_utf8();
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
        &self.text[start..self.pos]
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    /// A single-quoted STIX string; the cursor is on the opening quote.
    fn string(&mut self) -> Result<String, PatternError> {
        let start = self.pos;
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(PatternError::UnterminatedString(start)),
                Some('\'') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some(c @ ('\\' | '\'')) => out.push(c),
                    Some(other) => return Err(PatternError::Escape(other)),
                    None => return Err(PatternError::UnterminatedString(start)),
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn path_step(&mut self) -> Result<String, PatternError> {
        self.skip_ws();
        let at = self.pos;
        match self.peek() {
            Some('\'') => {
                let step = self.string()?;
                if step.is_empty() {
                    return Err(PatternError::Path(at));
                }
                Ok(step)
            }
            Some(c) if is_name_start(c) => Ok(self.take_while(is_name_char).to_owned()),
            _ => Err(PatternError::Path(at)),
        }
    }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn is_object_type_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// A path step is written bare when it reads as a STIX identifier, quoted otherwise.
fn is_bare_step(step: &str) -> bool {
    let mut chars = step.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

fn short(token: &str) -> String {
    token.chars().take(24).collect()
}

impl Pattern {
    /// Parses one single-comparison STIX pattern such as `[file:hashes.'SHA-256'='ab..']`.
    ///
    /// Whitespace is allowed between tokens, as STIX allows it.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        if text.len() > MAX_PATTERN_BYTES {
            return Err(PatternError::TooLong);
        }
        let mut c = Cursor { text, pos: 0 };
        c.skip_ws();
        if !c.eat('[') {
            return Err(PatternError::MissingOpenBracket);
        }
        c.skip_ws();
        let type_at = c.pos;
        let object_type = c.take_while(is_object_type_char).to_owned();
        c.skip_ws();
        if object_type.is_empty() || !c.eat(':') {
            return Err(PatternError::ObjectType(type_at));
        }
        let mut path = vec![c.path_step()?];
        loop {
            c.skip_ws();
            match c.peek() {
                Some('.') => {
                    c.bump();
                    path.push(c.path_step()?);
                }
                Some('[') => return Err(PatternError::ListStep),
                _ => break,
            }
        }
        let op_at = c.pos;
        if !c.eat('=') {
            let op = match c.peek() {
                Some(ch) if "!<>".contains(ch) => c.take_while(|ch| "!<>=".contains(ch)),
                _ => c.take_while(|ch| ch.is_alphanumeric() || ch == '_'),
            };
            return Err(if op.is_empty() {
                PatternError::Operator(format!("(none at byte {op_at})"))
            } else {
                PatternError::Operator(short(op))
            });
        }
        if c.peek() == Some('=') {
            return Err(PatternError::Operator("==".into()));
        }
        c.skip_ws();
        if c.peek() != Some('\'') {
            return Err(PatternError::Value(c.pos));
        }
        let value = c.string()?;
        c.skip_ws();
        let close_at = c.pos;
        if !c.eat(']') {
            let word = c.take_while(|ch| ch.is_ascii_alphabetic());
            return Err(match word.to_ascii_uppercase().as_str() {
                "AND" | "OR" => PatternError::Compound(word.to_ascii_uppercase()),
                _ => PatternError::MissingCloseBracket(close_at),
            });
        }
        c.skip_ws();
        if !c.at_end() {
            return Err(PatternError::Trailing(c.pos));
        }
        Ok(Pattern {
            object_type,
            path,
            value,
        })
    }

    /// `object_type:path` as written in a pattern, e.g. `file:hashes.'SHA-256'`.
    pub fn target(&self) -> String {
        let mut out = format!("{}:", self.object_type);
        for (i, step) in self.path.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            if is_bare_step(step) {
                out.push_str(step);
            } else {
                push_quoted(&mut out, step);
            }
        }
        out
    }
}

fn push_quoted(out: &mut String, text: &str) {
    out.push('\'');
    for ch in text.chars() {
        if ch == '\\' || ch == '\'' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('\'');
}

impl fmt::Display for Pattern {
    /// The canonical form public collections use: `[type:path='value']`, no spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::with_capacity(self.value.len() + 32);
        out.push('[');
        out.push_str(&self.target());
        out.push('=');
        push_quoted(&mut out, &self.value);
        out.push(']');
        f.write_str(&out)
    }
}

/// The digest algorithms indicator collections use for files and signing certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgorithm {
    /// SHA-256, 64 hex digits.
    Sha256,
    /// SHA-1, 40 hex digits.
    Sha1,
    /// MD5, 32 hex digits.
    Md5,
}

impl HashAlgorithm {
    /// Every supported algorithm.
    pub const ALL: [HashAlgorithm; 3] = [Self::Sha256, Self::Sha1, Self::Md5];

    /// Reads a STIX hash name in any spelling collections use: `sha256`, `'SHA-256'`, `SHA256`.
    pub fn from_name(name: &str) -> Option<Self> {
        let folded: String = name
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match folded.as_str() {
            "sha256" => Some(Self::Sha256),
            "sha1" => Some(Self::Sha1),
            "md5" => Some(Self::Md5),
            _ => None,
        }
    }

    /// The lower-case name used in evidence JSON and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha1 => "sha1",
            Self::Md5 => "md5",
        }
    }

    /// Length of the digest in hex digits.
    pub fn hex_len(self) -> usize {
        match self {
            Self::Sha256 => 64,
            Self::Sha1 => 40,
            Self::Md5 => 32,
        }
    }

    pub(crate) fn slot(self) -> usize {
        match self {
            Self::Sha256 => 0,
            Self::Sha1 => 1,
            Self::Md5 => 2,
        }
    }
}

/// Normalises a hex digest for comparison: surrounding space and `:` separators
/// (fingerprints are often printed `AB:CD:..`) removed, lower case. `None` when what
/// remains is not `algorithm`'s length in hex digits. Borrows when the input is
/// already canonical, as scanned evidence usually is.
pub fn normalize_digest(algorithm: HashAlgorithm, text: &str) -> Option<Cow<'_, str>> {
    let text = text.trim();
    let canonical = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if text.len() == algorithm.hex_len() && text.bytes().all(canonical) {
        return Some(Cow::Borrowed(text));
    }
    let digits: String = text
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (digits.len() == algorithm.hex_len() && digits.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some(Cow::Owned(digits))
}

/// What an indicator looks for, with its value normalised for matching.
///
/// Hashes are lower-case hex, domains and e-mail addresses lower case, URLs keyed
/// without their scheme (see [`url_key`]); file names, paths and process names keep
/// their case, as the platforms treat them case-sensitively. App ids and property names
/// keep the case written here and are compared ignoring case, as MVT compares them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Observable {
    /// `[app:id='..']`: an Android package name or iOS bundle id.
    AppId(String),
    /// `[app:cert.sha256='..']` (and `sha1`, `md5`): an app signing certificate digest.
    AppCert(HashAlgorithm, String),
    /// `[x509-certificate:hashes.'SHA-256'='..']`: a certificate anywhere on the device.
    Certificate(HashAlgorithm, String),
    /// `[domain-name:value='..']`: matches the domain and its subdomains.
    Domain(String),
    /// `[url:value='..']`.
    Url(String),
    /// `[file:name='..']`.
    FileName(String),
    /// `[file:path='..']`: absolute paths also match what lies beneath them; relative
    /// paths match as the trailing part of an absolute one.
    FilePath(String),
    /// `[file:hashes.sha256='..']` or `[file:hashes.'SHA-256'='..']` (and SHA-1, MD5).
    FileHash(HashAlgorithm, String),
    /// `[process:name='..']`.
    ProcessName(String),
    /// `[android-property:name='..']`: the presence of a system property.
    AndroidProperty(String),
    /// `[configuration-profile:id='..']`: an iOS profile's UUID or identifier (any case).
    ConfigurationProfile(String),
    /// `[ipv4-addr:value='..']`.
    Ipv4(Ipv4Addr),
    /// `[ipv6-addr:value='..']`.
    Ipv6(Ipv6Addr),
    /// `[email-addr:value='..']`.
    Email(String),
}

/// An [`Observable`] built from a pattern, plus a note when the value had to be adjusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreted {
    /// What the indicator looks for.
    pub observable: Observable,
    /// Set when the value was adjusted to be usable (e.g. a domain written with a path).
    pub note: Option<String>,
}

impl Observable {
    /// Gives a parsed pattern its meaning, or says why it has none the scanner can use.
    pub fn from_pattern(pattern: &Pattern) -> Result<Interpreted, PatternError> {
        let target = || pattern.target();
        let invalid = |problem: &'static str| PatternError::InvalidValue {
            target: target(),
            problem,
        };
        let value = pattern.value.as_str();
        let steps: Vec<&str> = pattern.path.iter().map(String::as_str).collect();
        let hash = |name: &str, build: fn(HashAlgorithm, String) -> Observable| {
            let algorithm = HashAlgorithm::from_name(name)
                .ok_or_else(|| PatternError::UnsupportedHash(name.to_owned()))?;
            let digest = normalize_digest(algorithm, value)
                .ok_or_else(|| invalid(digest_problem(algorithm)))?;
            Ok::<_, PatternError>(build(algorithm, digest.into_owned()))
        };
        let text = |build: fn(String) -> Observable| {
            if value.trim().is_empty() {
                Err(invalid("is empty"))
            } else {
                Ok(build(value.trim().to_owned()))
            }
        };
        let mut note = None;
        let observable = match (pattern.object_type.as_str(), steps.as_slice()) {
            ("app", ["id"]) => text(Observable::AppId)?,
            ("app", ["cert", name]) => hash(name, Observable::AppCert)?,
            ("x509-certificate", ["hashes", name]) => hash(name, Observable::Certificate)?,
            ("file", ["hashes", name]) => hash(name, Observable::FileHash)?,
            ("file", ["name"]) => text(Observable::FileName)?,
            ("file", ["path"]) => {
                let path = value.trim();
                if path.trim_matches('/').is_empty() {
                    return Err(invalid("is empty or the root folder"));
                }
                Observable::FilePath(path.to_owned())
            }
            ("process", ["name"]) => text(Observable::ProcessName)?,
            ("android-property", ["name"]) => text(Observable::AndroidProperty)?,
            ("configuration-profile", ["id"]) => {
                if value.trim().is_empty() {
                    return Err(invalid("is empty"));
                }
                Observable::ConfigurationProfile(value.trim().to_lowercase())
            }
            ("domain-name", ["value"]) => {
                let raw = value.trim();
                let host = match raw.find(['/', '?', '#']) {
                    Some(cut) => {
                        note = Some(format!(
                            "domain written with a path (`{}`); matched on its host alone",
                            short(&raw[cut..])
                        ));
                        &raw[..cut]
                    }
                    None => raw,
                };
                if let Ok(ip) = host.parse::<std::net::IpAddr>() {
                    note = Some("domain written as an IP address; matched as an address".into());
                    match ip {
                        std::net::IpAddr::V4(v4) => Observable::Ipv4(v4),
                        std::net::IpAddr::V6(v6) => Observable::Ipv6(v6),
                    }
                } else {
                    let domain =
                        normalize_domain(host).ok_or_else(|| invalid("is not a domain name"))?;
                    Observable::Domain(domain.into_owned())
                }
            }
            ("url", ["value"]) => {
                Observable::Url(url_key(value).ok_or_else(|| invalid("is not a URL with a host"))?)
            }
            ("ipv4-addr", ["value"]) => {
                if value.contains('/') {
                    return Err(invalid(
                        "is a CIDR range; only single addresses are supported",
                    ));
                }
                Observable::Ipv4(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| invalid("is not an IPv4 address"))?,
                )
            }
            ("ipv6-addr", ["value"]) => {
                if value.contains('/') {
                    return Err(invalid(
                        "is a CIDR range; only single addresses are supported",
                    ));
                }
                Observable::Ipv6(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| invalid("is not an IPv6 address"))?,
                )
            }
            ("email-addr", ["value"]) => {
                let address = value.trim();
                if !address.contains('@') {
                    return Err(invalid("is not an e-mail address"));
                }
                Observable::Email(address.to_lowercase())
            }
            _ => return Err(PatternError::UnsupportedTarget(target())),
        };
        Ok(Interpreted { observable, note })
    }
}

fn digest_problem(algorithm: HashAlgorithm) -> &'static str {
    match algorithm {
        HashAlgorithm::Sha256 => "is not a SHA-256 digest (64 hex digits)",
        HashAlgorithm::Sha1 => "is not a SHA-1 digest (40 hex digits)",
        HashAlgorithm::Md5 => "is not an MD5 digest (32 hex digits)",
    }
}

/// Normalises a host name for comparison: trimmed, lower case, without a trailing dot.
/// `None` when it cannot be a DNS name (empty, spaces, or URL punctuation inside).
pub fn normalize_domain(text: &str) -> Option<Cow<'_, str>> {
    let text = text.trim();
    let text = text.strip_suffix('.').unwrap_or(text);
    let text = text.strip_prefix("*.").unwrap_or(text);
    if text.is_empty()
        || text.starts_with('.')
        || text.contains("..")
        || text
            .chars()
            .any(|c| c.is_whitespace() || "/\\?#@:[]'\"<>".contains(c))
    {
        return None;
    }
    if text.chars().any(char::is_uppercase) {
        Some(Cow::Owned(text.to_lowercase()))
    } else {
        Some(Cow::Borrowed(text))
    }
}

/// The parts of a URL the scanner compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts<'a> {
    /// The host as written (brackets removed from IPv6 literals), not yet lower-cased.
    pub host: &'a str,
    /// The port, when one is written and is not the scheme's default.
    pub port: Option<&'a str>,
    /// Path and query (`/` when empty), fragment removed.
    pub rest: &'a str,
}

/// Splits a URL into host, port and path. A URL without a scheme (`evil.com/x`) is
/// read as host and path.
pub fn url_parts(url: &str) -> Option<UrlParts<'_>> {
    let url = url.trim();
    let url = url.split('#').next().unwrap_or(url);
    let (scheme, after) = match url.find("://") {
        Some(i) => (&url[..i], &url[i + 3..]),
        None => ("", url),
    };
    let end = after.find(['/', '?']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let close = v6.find(']')?;
        let port = v6[close + 1..].strip_prefix(':');
        (&v6[..close], port)
    } else {
        match authority.rfind(':') {
            Some(i) => (&authority[..i], Some(&authority[i + 1..])),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => Some("80"),
        "https" | "wss" => Some("443"),
        _ => None,
    };
    let port = port.filter(|p| !p.is_empty() && Some(*p) != default_port);
    let rest = if rest.is_empty() { "/" } else { rest };
    Some(UrlParts { host, port, rest })
}

/// The key URLs are compared by: host (lower case) and port, then path and query as
/// written. The scheme is left out, so `http://` and `https://` copies of a malicious
/// resource both match.
pub fn url_key(url: &str) -> Option<String> {
    let parts = url_parts(url)?;
    let host = normalize_domain(parts.host)
        .map(std::borrow::Cow::into_owned)
        .or_else(|| parts.host.parse::<Ipv6Addr>().ok().map(|ip| ip.to_string()))?;
    Some(match parts.port {
        Some(port) => format!("{host}:{port}{}", parts.rest),
        None => format!("{host}{}", parts.rest),
    })
}

/// An indicator from a collection, ready to match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    /// The STIX id, e.g. `indicator--55319823-...`.
    pub id: String,
    /// The label of the collection it came from (the caller's name for the bundle).
    pub collection: String,
    /// The pattern as written in the bundle.
    pub pattern: String,
    /// What it looks for.
    pub observable: Observable,
    /// Names of the malware `indicates` relationships link it to (usually one), then of
    /// the reports that list or are linked to it, as MVT names indicators after a
    /// report when a bundle has no malware object for them. Shared with every indicator
    /// of the same id and with findings (never copied).
    pub malware: MalwareNames,
    /// The platforms its malware or report targets, as the collection says it; empty
    /// when the collection is silent.
    pub platforms: TargetPlatforms,
}

/// The platforms a collection says an indicator targets: a malware or report object's
/// `x_mitre_platforms` (`android`, `ios`, any case) or its `operating_system_refs`
/// naming `software` objects called Android or iOS. Both false when the collection is
/// silent, and then the indicator is matched on every platform.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct TargetPlatforms {
    /// Android is named.
    pub android: bool,
    /// iOS (or iPadOS) is named.
    pub ios: bool,
}

impl TargetPlatforms {
    /// True when the collection names no mobile platform for the indicator.
    pub fn is_silent(self) -> bool {
        !self.android && !self.ios
    }

    /// True when the collection names platforms and `platform` is not among them: the
    /// indicator's process and file names mean nothing there.
    pub fn excludes(self, platform: crate::inspection::evidence::Platform) -> bool {
        use crate::inspection::evidence::Platform;
        !self.is_silent()
            && match platform {
                Platform::Android => !self.android,
                Platform::Ios => !self.ios,
            }
    }

    fn union(self, other: TargetPlatforms) -> TargetPlatforms {
        TargetPlatforms {
            android: self.android || other.android,
            ios: self.ios || other.ios,
        }
    }

    /// Reads one platform name; other names (Windows, Linux...) add nothing.
    fn with_name(mut self, name: &str) -> TargetPlatforms {
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "android" => self.android = true,
            "ios" | "ipados" | "iphone os" => self.ios = true,
            _ => {}
        }
        self
    }
}

/// An indicator that cannot be used, and why: reported to the analyst, never dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnparsedIndicator {
    /// The collection it came from.
    pub collection: String,
    /// Its STIX id, or `objects[N]` when it has none.
    pub indicator_id: String,
    /// Its pattern, when it has one.
    pub pattern: Option<String>,
    /// Why it cannot be used.
    pub reason: String,
}

/// An indicator that was loaded after its value was adjusted; the analyst should know.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IndicatorNote {
    /// The collection it came from.
    pub collection: String,
    /// Its STIX id.
    pub indicator_id: String,
    /// Its pattern as written.
    pub pattern: String,
    /// What was adjusted and how it is matched.
    pub note: String,
}

/// One STIX 2.1 bundle, read into indicators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collection {
    /// The label the caller gave (e.g. the file's name); findings name it.
    pub name: String,
    /// The bundle's STIX id, when it has one.
    pub bundle_id: Option<String>,
    /// Usable indicators, in bundle order.
    pub indicators: Vec<Indicator>,
    /// Indicators that cannot be used, with reasons.
    pub unparsed: Vec<UnparsedIndicator>,
    /// Indicators loaded after an adjustment.
    pub notes: Vec<IndicatorNote>,
    /// How many `malware` objects the bundle holds.
    pub malware: usize,
    /// How many objects of other types (reports, identities, ...) were not needed.
    pub other_objects: usize,
}

fn bundle_error(problem: impl Into<String>) -> Error {
    Error::invalid("indicators", problem)
}

/// Reads a STIX 2.1 bundle (JSON text) into a [`Collection`] labelled `collection`.
///
/// The bundle itself must be well-formed (`{"type": "bundle", "objects": [...]}`,
/// every object with a `type`); a bundle that is not is an error. Individual
/// indicators that cannot be used are listed in [`Collection::unparsed`] with a
/// reason. Malware names come from `indicates` relationships from an indicator to a
/// `malware` object, wherever they sit in the bundle.
///
/// The bundle is read in one strict pass (a key repeated in any object is refused) that
/// keeps only the fields indicators need, never a tree of the whole document: memory is
/// a small multiple of the bundle's size whatever its shape. Malware names are shared:
/// each distinct name is stored once, and each indicator id's list once, however many
/// indicators share the id; linking is linear in the number of relationships.
pub fn parse_bundle(collection: &str, json: &str) -> Result<Collection> {
    let mut raw = RawBundle::default();
    let mut de = serde_json::Deserializer::from_str(json);
    let read = BundleSeed(&mut raw)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    if let Err(e) = read {
        return Err(bundle_error(match e.classify() {
            // A repeated key; other data errors are the shape errors below.
            serde_json::error::Category::Data if !raw.shape_error => crate::json::describe(&e),
            serde_json::error::Category::Data => "a STIX bundle must be a JSON object".to_owned(),
            _ => format!("not valid JSON at line {} column {}", e.line(), e.column()),
        }));
    }
    if raw.kind.as_deref() != Some("bundle") {
        return Err(bundle_error("not a STIX bundle (`type` is not \"bundle\")"));
    }
    if raw.objects_not_a_list {
        return Err(bundle_error("the bundle's `objects` is not a list"));
    }
    if let Some(problem) = raw.object_error.take() {
        return Err(bundle_error(problem));
    }
    Ok(raw.into_collection(collection))
}

/// Shared malware names of an indicator: usually one. Cloning is a reference count.
pub type MalwareNames = std::sync::Arc<[std::sync::Arc<str>]>;

/// What the one pass over a bundle keeps.
#[derive(Default)]
struct RawBundle<'de> {
    /// Only the outer shape is wanted: objects are read (strictly) but not kept.
    shape_only: bool,
    kind: Option<Cow<'de, str>>,
    id: Option<Cow<'de, str>>,
    /// The top level is not an object.
    shape_error: bool,
    objects_not_a_list: bool,
    /// The first object that is not an object or has no `type`.
    object_error: Option<String>,
    malware: usize,
    other_objects: usize,
    /// `malware` objects: id and name (the id when unnamed).
    malware_names: Vec<(Cow<'de, str>, Cow<'de, str>)>,
    /// `indicates` relationships: source and target.
    links: Vec<(Cow<'de, str>, Cow<'de, str>)>,
    /// `report` objects: id and name (the id when unnamed).
    report_names: Vec<(Cow<'de, str>, Cow<'de, str>)>,
    /// Indicators a report lists in `object_refs`: indicator and report.
    report_refs: Vec<(Cow<'de, str>, Cow<'de, str>)>,
    /// Platforms named by malware and report objects, by object id.
    platforms: Vec<(Cow<'de, str>, TargetPlatforms)>,
    /// Platforms of `operating_system_refs`, resolved once `software` names are known.
    os_refs: Vec<(Cow<'de, str>, Cow<'de, str>)>,
    /// `software` objects: id and name.
    software: Vec<(Cow<'de, str>, Cow<'de, str>)>,
    indicators: Vec<RawIndicator<'de>>,
}

struct RawIndicator<'de> {
    index: usize,
    id: Option<Cow<'de, str>>,
    pattern: Option<Cow<'de, str>>,
    pattern_type: Option<Cow<'de, str>>,
    revoked: bool,
    platforms: TargetPlatforms,
}

impl RawBundle<'_> {
    fn into_collection(mut self, collection: &str) -> Collection {
        use std::sync::Arc;
        // Give back the room the parse's doubling left: the results are built beside it.
        self.indicators.shrink_to_fit();
        let mut out = Collection {
            name: collection.to_owned(),
            bundle_id: self.id.map(Cow::into_owned),
            malware: self.malware,
            other_objects: self.other_objects,
            ..Collection::default()
        };
        // Each distinct name once; a malware id names its last object's name.
        let mut names: Vec<Arc<str>> = Vec::new();
        let mut name_index: HashMap<&str, u32> = HashMap::new();
        let mut malware_name: HashMap<&str, u32> = HashMap::new();
        // Malware first, then reports: an indicator linked to both lists its malware first.
        for (id, name) in self.malware_names.iter().chain(&self.report_names) {
            let next = names.len() as u32;
            let n = *name_index.entry(name.as_ref()).or_insert_with(|| {
                names.push(Arc::from(name.as_ref()));
                next
            });
            malware_name.insert(id.as_ref(), n);
        }
        // Each source's names in link order, each once: one set of (source, name) pairs
        // for the whole bundle, so linking is linear in the relationships.
        let mut seen: std::collections::HashSet<(&str, u32)> = std::collections::HashSet::new();
        let mut lists: HashMap<&str, Vec<u32>> = HashMap::new();
        let malware_ids: std::collections::HashSet<&str> = self
            .malware_names
            .iter()
            .map(|(id, _)| id.as_ref())
            .collect();
        let (to_malware, to_reports): (Vec<_>, Vec<_>) = self
            .links
            .iter()
            .partition(|(_, target)| malware_ids.contains(target.as_ref()));
        for (source, target) in to_malware
            .into_iter()
            .chain(to_reports)
            .chain(self.report_refs.iter())
        {
            if let Some(&n) = malware_name.get(target.as_ref()) {
                if seen.insert((source.as_ref(), n)) {
                    lists.entry(source.as_ref()).or_default().push(n);
                }
            }
        }
        drop(seen);
        // Platforms: an object's own list, plus its operating systems' names.
        let software: HashMap<&str, &str> = self
            .software
            .iter()
            .map(|(id, name)| (id.as_ref(), name.as_ref()))
            .collect();
        let mut object_platforms: HashMap<&str, TargetPlatforms> = HashMap::new();
        for (id, p) in &self.platforms {
            let e = object_platforms.entry(id.as_ref()).or_default();
            *e = e.union(*p);
        }
        for (id, os) in &self.os_refs {
            if let Some(name) = software.get(os.as_ref()) {
                let e = object_platforms.entry(id.as_ref()).or_default();
                *e = e.with_name(name);
            }
        }
        let mut indicator_platforms: HashMap<&str, TargetPlatforms> = HashMap::new();
        for (source, target) in self.links.iter().chain(self.report_refs.iter()) {
            if let Some(p) = object_platforms.get(target.as_ref()) {
                let e = indicator_platforms.entry(source.as_ref()).or_default();
                *e = e.union(*p);
            }
        }
        let lists: HashMap<&str, MalwareNames> = lists
            .into_iter()
            .map(|(source, list)| {
                let shared: MalwareNames =
                    list.iter().map(|&n| names[n as usize].clone()).collect();
                (source, shared)
            })
            .collect();
        let none: MalwareNames = Arc::from(Vec::new());
        for (i, raw) in self.indicators.iter().enumerate() {
            let left = self.indicators.len() - i;
            let id = raw.id.as_deref();
            let pattern = raw.pattern.as_deref();
            let unparsed = |reason: String| UnparsedIndicator {
                collection: collection.to_owned(),
                indicator_id: id.map_or_else(|| format!("objects[{}]", raw.index), str::to_owned),
                pattern: pattern.map(str::to_owned),
                reason,
            };
            let (Some(id), Some(pattern)) = (id, pattern) else {
                let missing = if id.is_none() { "`id`" } else { "`pattern`" };
                refuse(
                    &mut out.unparsed,
                    left,
                    unparsed(format!("indicator has no {missing} string")),
                );
                continue;
            };
            if let Some(kind) = raw.pattern_type.as_deref() {
                if kind != "stix" {
                    let reason = format!(
                        "pattern_type `{}` is not supported (only `stix` is)",
                        short(kind)
                    );
                    refuse(&mut out.unparsed, left, unparsed(reason));
                    continue;
                }
            }
            if raw.revoked {
                let reason = "indicator is revoked by its producer".into();
                refuse(&mut out.unparsed, left, unparsed(reason));
                continue;
            }
            let interpreted = Pattern::parse(pattern).and_then(|p| Observable::from_pattern(&p));
            match interpreted {
                Ok(Interpreted { observable, note }) => {
                    if let Some(note) = note {
                        out.notes.push(IndicatorNote {
                            collection: collection.to_owned(),
                            indicator_id: id.to_owned(),
                            pattern: pattern.to_owned(),
                            note,
                        });
                    }
                    out.indicators.push(Indicator {
                        id: id.to_owned(),
                        collection: collection.to_owned(),
                        pattern: pattern.to_owned(),
                        observable,
                        malware: lists.get(id).cloned().unwrap_or_else(|| none.clone()),
                        platforms: raw
                            .platforms
                            .union(indicator_platforms.get(id).copied().unwrap_or_default()),
                    });
                }
                Err(e) => refuse(&mut out.unparsed, left, unparsed(e.to_string())),
            }
        }
        out.unparsed.shrink_to_fit();
        out
    }
}

/// Adds an unusable indicator; `left` counts it and the indicators still to come. The
/// first one reserves room for all of them, so a bundle of unusable indicators never
/// holds a list in mid-doubling (three times its length) beside the raw indicators:
/// loading stays within 20 times the bundle's size.
fn refuse(list: &mut Vec<UnparsedIndicator>, left: usize, item: UnparsedIndicator) {
    if list.capacity() == 0 {
        list.reserve_exact(left);
    }
    list.push(item);
}

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The top level of a bundle.
struct BundleSeed<'a, 'de>(&'a mut RawBundle<'de>);

impl<'de> DeserializeSeed<'de> for BundleSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BundleSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a STIX bundle")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let raw = self.0;
        let mut keys = crate::json::KeySet::default();
        while let Some(crate::json::Key(key)) = map.next_key()? {
            keys.insert::<A::Error>(key.clone())?;
            match key.as_ref() {
                "type" => raw.kind = map.next_value::<Lenient<'de>>()?.text,
                "id" => raw.id = map.next_value::<Lenient<'de>>()?.text,
                "objects" => map.next_value_seed(ObjectsSeed(&mut *raw))?,
                _ => map.next_value_seed(crate::json::Unique)?,
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> std::result::Result<(), A::Error> {
        self.0.shape_error = true;
        Err(de::Error::custom("not an object"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<(), E> {
        self.not_an_object()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<(), E> {
        self.not_an_object()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<(), E> {
        self.not_an_object()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<(), E> {
        self.not_an_object()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> std::result::Result<(), E> {
        self.not_an_object()
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        self.not_an_object()
    }
}

impl BundleSeed<'_, '_> {
    fn not_an_object<E: de::Error>(self) -> std::result::Result<(), E> {
        self.0.shape_error = true;
        Err(E::custom("not an object"))
    }
}

/// The bundle's `objects`: each element is read and classified as it is parsed.
struct ObjectsSeed<'a, 'de>(&'a mut RawBundle<'de>);

impl<'de> DeserializeSeed<'de> for ObjectsSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        // Anything but a list is refused after the whole document was read, so that a
        // wrong `type` is reported first, as before.
        let raw = self.0;
        let mut is_list = false;
        d.deserialize_any(ObjectsVisitor {
            raw: &mut *raw,
            is_list: &mut is_list,
        })?;
        if !is_list {
            raw.objects_not_a_list = true;
        }
        Ok(())
    }
}

struct ObjectsVisitor<'a, 'de> {
    raw: &'a mut RawBundle<'de>,
    is_list: &'a mut bool,
}

impl<'de> Visitor<'de> for ObjectsVisitor<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of STIX objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        *self.is_list = true;
        let mut index = 0;
        while let Some(object) = seq.next_element::<StixObject<'de>>()? {
            self.raw.add(index, object);
            index += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<(), A::Error> {
        crate::json::Unique.visit_map(map)
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        Ok(())
    }
}

/// The fields of a STIX object indicators need; `None` for an element that is not a
/// JSON object.
#[derive(Default)]
struct StixObject<'de> {
    is_object: bool,
    kind: Option<Cow<'de, str>>,
    id: Option<Cow<'de, str>>,
    name: Option<Cow<'de, str>>,
    pattern: Option<Cow<'de, str>>,
    pattern_type: Option<Cow<'de, str>>,
    revoked: Option<bool>,
    relationship_type: Option<Cow<'de, str>>,
    source_ref: Option<Cow<'de, str>>,
    target_ref: Option<Cow<'de, str>>,
    /// `object_refs` (reports), `x_mitre_platforms`, `operating_system_refs`.
    object_refs: Vec<Cow<'de, str>>,
    platform_names: Vec<Cow<'de, str>>,
    os_refs: Vec<Cow<'de, str>>,
}

impl<'de> serde::Deserialize<'de> for StixObject<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = StixObject<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a STIX object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<StixObject<'de>, A::Error> {
                let mut o = StixObject {
                    is_object: true,
                    ..StixObject::default()
                };
                let mut keys = crate::json::KeySet::default();
                while let Some(crate::json::Key(key)) = map.next_key()? {
                    keys.insert::<A::Error>(key.clone())?;
                    let slot = match key.as_ref() {
                        "type" => &mut o.kind,
                        "id" => &mut o.id,
                        "name" => &mut o.name,
                        "pattern" => &mut o.pattern,
                        "pattern_type" => &mut o.pattern_type,
                        "relationship_type" => &mut o.relationship_type,
                        "source_ref" => &mut o.source_ref,
                        "target_ref" => &mut o.target_ref,
                        "revoked" => {
                            o.revoked = map.next_value::<Lenient<'de>>()?.flag;
                            continue;
                        }
                        "object_refs" => {
                            o.object_refs = map.next_value::<TextList<'de>>()?.0;
                            continue;
                        }
                        "x_mitre_platforms" => {
                            o.platform_names = map.next_value::<TextList<'de>>()?.0;
                            continue;
                        }
                        "operating_system_refs" => {
                            o.os_refs = map.next_value::<TextList<'de>>()?.0;
                            continue;
                        }
                        _ => {
                            map.next_value_seed(crate::json::Unique)?;
                            continue;
                        }
                    };
                    *slot = map.next_value::<Lenient<'de>>()?.text;
                }
                Ok(o)
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                seq: A,
            ) -> std::result::Result<StixObject<'de>, A::Error> {
                crate::json::Unique.visit_seq(seq)?;
                Ok(StixObject::default())
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<StixObject<'de>, E> {
                Ok(StixObject::default())
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<StixObject<'de>, E> {
                Ok(StixObject::default())
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<StixObject<'de>, E> {
                Ok(StixObject::default())
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<StixObject<'de>, E> {
                Ok(StixObject::default())
            }
            fn visit_str<E>(self, _: &str) -> std::result::Result<StixObject<'de>, E> {
                Ok(StixObject::default())
            }
            fn visit_unit<E>(self) -> std::result::Result<StixObject<'de>, E> {
                Ok(StixObject::default())
            }
        }
        d.deserialize_any(ObjectVisitor)
    }
}

impl<'de> RawBundle<'de> {
    /// Classifies object `index` as it is read; after a malformed object nothing more is
    /// kept (the bundle is refused).
    fn add(&mut self, index: usize, o: StixObject<'de>) {
        if self.object_error.is_some() || self.shape_only {
            return;
        }
        if !o.is_object {
            self.object_error = Some(format!("objects[{index}] is not a JSON object"));
            return;
        }
        let Some(kind) = o.kind else {
            self.object_error = Some(format!("objects[{index}] has no `type`"));
            return;
        };
        let platforms = o
            .platform_names
            .iter()
            .fold(TargetPlatforms::default(), |p, name| p.with_name(name));
        match kind.as_ref() {
            "indicator" => self.indicators.push(RawIndicator {
                index,
                id: o.id,
                pattern: o.pattern,
                pattern_type: o.pattern_type,
                revoked: o.revoked == Some(true),
                platforms,
            }),
            "malware" | "report" => {
                let Some(id) = o.id else {
                    if kind == "malware" {
                        self.malware += 1;
                    } else {
                        self.other_objects += 1;
                    }
                    return;
                };
                if !platforms.is_silent() {
                    self.platforms.push((id.clone(), platforms));
                }
                for os in o.os_refs {
                    self.os_refs.push((id.clone(), os));
                }
                let name = o.name.unwrap_or_else(|| id.clone());
                if kind == "malware" {
                    self.malware += 1;
                    self.malware_names.push((id, name));
                } else {
                    self.other_objects += 1;
                    for indicator in o.object_refs {
                        if indicator.starts_with("indicator--") {
                            self.report_refs.push((indicator, id.clone()));
                        }
                    }
                    self.report_names.push((id, name));
                }
            }
            "software" => {
                self.other_objects += 1;
                if let (Some(id), Some(name)) = (o.id, o.name) {
                    self.software.push((id, name));
                }
            }
            "relationship" => {
                if o.relationship_type.as_deref() == Some("indicates") {
                    if let (Some(source), Some(target)) = (o.source_ref, o.target_ref) {
                        self.links.push((source, target));
                    }
                } else {
                    self.other_objects += 1;
                }
            }
            _ => self.other_objects += 1,
        }
    }
}

/// A list field read as its string elements; anything else in or instead of the list is
/// read strictly and left out.
#[derive(Default)]
struct TextList<'de>(Vec<Cow<'de, str>>);

impl<'de> serde::Deserialize<'de> for TextList<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = TextList<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<TextList<'de>, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<Lenient<'de>>()? {
                    if let Some(text) = item.text {
                        out.push(text);
                    }
                }
                Ok(TextList(out))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<TextList<'de>, A::Error> {
                crate::json::Unique.visit_map(map)?;
                Ok(TextList::default())
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<TextList<'de>, E> {
                Ok(TextList::default())
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<TextList<'de>, E> {
                Ok(TextList::default())
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<TextList<'de>, E> {
                Ok(TextList::default())
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<TextList<'de>, E> {
                Ok(TextList::default())
            }
            fn visit_str<E>(self, _: &str) -> std::result::Result<TextList<'de>, E> {
                Ok(TextList::default())
            }
            fn visit_unit<E>(self) -> std::result::Result<TextList<'de>, E> {
                Ok(TextList::default())
            }
        }
        d.deserialize_any(ListVisitor)
    }
}

/// A field read as whatever it is: its text when a string, its value when a boolean,
/// nothing otherwise (a nested value is still read strictly).
#[derive(Default)]
struct Lenient<'de> {
    text: Option<Cow<'de, str>>,
    flag: Option<bool>,
}

impl<'de> serde::Deserialize<'de> for Lenient<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct LenientVisitor;
        impl<'de> Visitor<'de> for LenientVisitor {
            type Value = Lenient<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Lenient<'de>, E> {
                Ok(Lenient {
                    text: Some(Cow::Borrowed(v)),
                    flag: None,
                })
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Lenient<'de>, E> {
                Ok(Lenient {
                    text: Some(Cow::Owned(v.to_owned())),
                    flag: None,
                })
            }
            fn visit_bool<E>(self, v: bool) -> std::result::Result<Lenient<'de>, E> {
                Ok(Lenient {
                    text: None,
                    flag: Some(v),
                })
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<Lenient<'de>, E> {
                Ok(Lenient::default())
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<Lenient<'de>, E> {
                Ok(Lenient::default())
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<Lenient<'de>, E> {
                Ok(Lenient::default())
            }
            fn visit_unit<E>(self) -> std::result::Result<Lenient<'de>, E> {
                Ok(Lenient::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                seq: A,
            ) -> std::result::Result<Lenient<'de>, A::Error> {
                crate::json::Unique.visit_seq(seq)?;
                Ok(Lenient::default())
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Lenient<'de>, A::Error> {
                crate::json::Unique.visit_map(map)?;
                Ok(Lenient::default())
            }
        }
        d.deserialize_any(LenientVisitor)
    }
}

/// Checks the outer shape of a bundle as a signed collection's payload carries it: a
/// JSON object whose `type` is `"bundle"` and whose `objects`, if present, is a list.
/// Returns the failing path and problem. The objects themselves are judged when loaded.
pub(crate) fn check_bundle_shape(
    json: &str,
) -> std::result::Result<(), (&'static str, &'static str)> {
    const NOT_AN_OBJECT: (&str, &str) = ("stix", "must be a STIX 2.1 bundle (a JSON object)");
    let mut raw = RawBundle {
        shape_only: true,
        ..RawBundle::default()
    };
    let mut de = serde_json::Deserializer::from_str(json);
    if BundleSeed(&mut raw)
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .is_err()
    {
        return Err(NOT_AN_OBJECT);
    }
    if raw.kind.as_deref() != Some("bundle") {
        return Err(("stix.type", "must be \"bundle\""));
    }
    if raw.objects_not_a_list {
        return Err(("stix.objects", "must be a list"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Pattern {
        Pattern::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn obs(text: &str) -> Observable {
        Observable::from_pattern(&p(text)).unwrap().observable
    }

    #[test]
    fn parses_the_forms_collections_write() {
        let pat = p("[file:hashes.'SHA-256'='05B5E4070B3B8A130B12EA96C5526B4615FCAE121BB802B1A10C3A7A70F39901']");
        assert_eq!(pat.object_type, "file");
        assert_eq!(pat.path, ["hashes", "SHA-256"]);
        assert_eq!(
            obs(&pat.to_string()),
            Observable::FileHash(
                HashAlgorithm::Sha256,
                "05b5e4070b3b8a130b12ea96c5526b4615fcae121bb802b1a10c3a7a70f39901".into()
            )
        );
        assert_eq!(
            obs("[file:hashes.sha256='05b5e4070b3b8a130b12ea96c5526b4615fcae121bb802b1a10c3a7a70f39901']"),
            obs(&pat.to_string())
        );
        assert_eq!(
            p("  [ domain-name : value = 'Evil.COM' ]  "),
            p("[domain-name:value='Evil.COM']")
        );
        assert_eq!(
            obs("[domain-name:value='Evil.COM.']"),
            Observable::Domain("evil.com".into())
        );
        assert_eq!(
            obs("[app:id='com.example']"),
            Observable::AppId("com.example".into())
        );
        assert_eq!(
            obs("[app:cert.md5='D41D8CD98F00B204E9800998ECF8427E']"),
            Observable::AppCert(
                HashAlgorithm::Md5,
                "d41d8cd98f00b204e9800998ecf8427e".into()
            )
        );
        assert_eq!(
            obs("[ipv4-addr:value='62.72.21.10']"),
            Observable::Ipv4(Ipv4Addr::new(62, 72, 21, 10))
        );
        assert_eq!(
            obs("[url:value='HTTPS://Evil.com:443/a?b=1#frag']"),
            Observable::Url("evil.com/a?b=1".into())
        );
        assert_eq!(
            obs("[configuration-profile:id='76DAB334-7E17-475D-A5D6-0794EB5818A5']"),
            Observable::ConfigurationProfile("76dab334-7e17-475d-a5d6-0794eb5818a5".into())
        );
        let escaped = p(r"[file:name='it\'s \\ here']");
        assert_eq!(escaped.value, r"it's \ here");
        assert_eq!(escaped.to_string(), r"[file:name='it\'s \\ here']");
    }

    #[test]
    fn refuses_what_it_cannot_match_with_a_reason() {
        let cases: &[(&str, PatternError)] = &[
            ("", PatternError::MissingOpenBracket),
            ("file:name='x'", PatternError::MissingOpenBracket),
            ("[:name='x']", PatternError::ObjectType(1)),
            ("[file:='x']", PatternError::Path(6)),
            ("[file:9name='x']", PatternError::Path(6)),
            ("[file:names[0]='x']", PatternError::ListStep),
            ("[file:name!='x']", PatternError::Operator("!=".into())),
            (
                "[file:name LIKE 'x%']",
                PatternError::Operator("LIKE".into()),
            ),
            ("[file:name=='x']", PatternError::Operator("==".into())),
            ("[file:size=12]", PatternError::Value(11)),
            ("[file:name='x]", PatternError::UnterminatedString(11)),
            (r"[file:name='\n']", PatternError::Escape('n')),
            (
                "[file:name='x' AND file:size='1']",
                PatternError::Compound("AND".into()),
            ),
            ("[file:name='x' OR", PatternError::Compound("OR".into())),
            ("[file:name='x'", PatternError::MissingCloseBracket(14)),
            (
                "[file:name='x'] AND [file:name='y']",
                PatternError::Trailing(16),
            ),
            (
                "[file:name='x'] WITHIN 5 SECONDS",
                PatternError::Trailing(16),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Pattern::parse(text).as_ref(), Err(want), "{text}");
        }
        let meaning = |text: &str| Observable::from_pattern(&p(text)).unwrap_err();
        assert_eq!(
            meaning("[x509-certificate:subject='CN=x']"),
            PatternError::UnsupportedTarget("x509-certificate:subject".into())
        );
        assert_eq!(
            meaning("[file:hashes.'SHA-512'='00']"),
            PatternError::UnsupportedHash("SHA-512".into())
        );
        assert!(matches!(
            meaning("[file:hashes.sha256='abc']"),
            PatternError::InvalidValue { .. }
        ));
        assert!(matches!(
            meaning("[ipv4-addr:value='10.0.0.0/8']"),
            PatternError::InvalidValue { .. }
        ));
        assert!(matches!(
            meaning("[domain-name:value='']"),
            PatternError::InvalidValue { .. }
        ));
    }

    #[test]
    fn a_domain_written_with_a_path_is_matched_on_its_host_and_noted() {
        let got =
            Observable::from_pattern(&p("[domain-name:value='fgr1w2gnsdvsb.xyz/x']")).unwrap();
        assert_eq!(
            got.observable,
            Observable::Domain("fgr1w2gnsdvsb.xyz".into())
        );
        assert!(got.note.unwrap().contains("`/x`"));
        let ip = Observable::from_pattern(&p("[domain-name:value='203.0.113.9']")).unwrap();
        assert_eq!(
            ip.observable,
            Observable::Ipv4(Ipv4Addr::new(203, 0, 113, 9))
        );
        assert!(ip.note.is_some());
    }

    #[test]
    fn urls_split_into_host_port_and_path() {
        let parts = url_parts("https://user@[2001:db8::1]:8443/p?q#f").unwrap();
        assert_eq!(parts.host, "2001:db8::1");
        assert_eq!(parts.port, Some("8443"));
        assert_eq!(parts.rest, "/p?q");
        assert_eq!(url_key("http://Evil.com:80"), Some("evil.com/".into()));
        assert_eq!(url_key("evil.com/x"), Some("evil.com/x".into()));
        assert_eq!(url_key("https:///nohost"), None);
    }

    #[test]
    fn bundles_link_indicators_to_malware_and_report_what_they_cannot_use() {
        let json = r#"{"type":"bundle","id":"bundle--1","objects":[
            {"type":"relationship","id":"relationship--1","relationship_type":"indicates",
             "source_ref":"indicator--1","target_ref":"malware--1"},
            {"type":"indicator","id":"indicator--1","pattern":"[app:id='com.bad']","pattern_type":"stix"},
            {"type":"indicator","id":"indicator--2","pattern":"[app:id='a' OR app:id='b']","pattern_type":"stix"},
            {"type":"indicator","id":"indicator--3","pattern":"rule x {}","pattern_type":"yara"},
            {"type":"indicator","pattern":"[app:id='c']"},
            {"type":"indicator","id":"indicator--5","pattern":"[app:id='d']","revoked":true},
            {"type":"malware","id":"malware--1","name":"BadWare","is_family":false},
            {"type":"identity","id":"identity--1","name":"someone"}
        ]}"#;
        let c = parse_bundle("test", json).unwrap();
        assert_eq!(c.bundle_id.as_deref(), Some("bundle--1"));
        assert_eq!(c.indicators.len(), 1);
        assert_eq!(c.indicators[0].malware.len(), 1);
        assert_eq!(&*c.indicators[0].malware[0], "BadWare");
        assert_eq!(c.indicators[0].collection, "test");
        assert_eq!(c.malware, 1);
        assert_eq!(c.other_objects, 1);
        let ids: Vec<&str> = c.unparsed.iter().map(|u| u.indicator_id.as_str()).collect();
        assert_eq!(
            ids,
            ["indicator--2", "indicator--3", "objects[4]", "indicator--5"]
        );
        assert!(
            c.unparsed[0].reason.contains("OR"),
            "{}",
            c.unparsed[0].reason
        );
        assert!(c.unparsed[1].reason.contains("yara"));
        assert!(c.unparsed[3].reason.contains("revoked"));
    }

    #[test]
    fn malformed_bundles_are_errors_that_do_not_echo_content() {
        for bad in [
            "",
            "[]",
            r#"{"type":"report"}"#,
            r#"{"type":"bundle","objects":{}}"#,
            r#"{"type":"bundle","objects":[1]}"#,
            r#"{"type":"bundle","objects":[{"id":"x"}]}"#,
            r#"{"type":"bundle","objects":[{"type":"indicator","pattern":"secret-value"#,
        ] {
            let err = parse_bundle("c", bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid indicators"), "{err}");
            assert!(!err.contains("secret-value"), "{err}");
        }
        assert!(parse_bundle("c", r#"{"type":"bundle"}"#)
            .unwrap()
            .indicators
            .is_empty());
    }
}
