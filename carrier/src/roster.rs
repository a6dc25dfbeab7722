//! The roster: which lines to watch and how to reach each line's carrier.
//!
//! ```toml
//! [carrier.acme]
//! sim_swap_url = "https://api.acme.example/sim-swap/v2"
//! device_swap_url = "https://api.acme.example/device-swap/v1"
//! token_url = "https://auth.acme.example/token"
//! auth = "client_credentials"           # or "ciba" (then bc_authorize_url)
//! client_id = "portcullis-console"
//! client_secret = { env = "ACME_CLIENT_SECRET" }   # or { file = "acme.secret" }
//! concurrency = 32                      # requests in flight per endpoint
//!
//! [[line]]
//! device = "minister-01"
//! phone = "+447700900123"
//! carrier = "acme"
//! pin_key = "pins/minister-01.key"      # the file `portcullis sim pin --pin-key` reads
//! check_max_age = 24                    # optional: `check` with this maxAge instead of `retrieve-date`
//!
//! [listen]                              # optional: SIM Swap Subscriptions
//! sink = "https://console.example/carrier/notify"
//! sink_token = { file = "sink.token" }  # the bearer token carriers must present
//! subscription_days = 30
//! ```
//!
//! Validation is done field by field so an error names the entry and the field and
//! never repeats a value (a phone number, a secret).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use portcullis_core::identity::IdentityKind;
use portcullis_core::journal::unhex32;
use portcullis_core::policy::PinKey;

use crate::error::Error;

/// How the console obtains access tokens from a carrier (CAMARA security profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Two-legged: OpenID Connect client credentials; the phone number goes in the body.
    ClientCredentials,
    /// Three-legged: CIBA with `login_hint=tel:+E164`; no phone number in the body.
    Ciba,
}

/// Where a secret is read from: never the command line.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable's name.
    Env(String),
    /// A file (relative paths are taken from the roster's folder).
    File(PathBuf),
}

impl std::fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env {name}"),
            SecretRef::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

impl SecretRef {
    /// Reads the secret (trimmed). Errors name the variable or file, never its content.
    pub fn read(&self) -> Result<String, Error> {
        let value = match self {
            SecretRef::Env(name) => std::env::var(name)
                .map_err(|_| Error::Config(format!("environment variable {name} is not set")))?,
            SecretRef::File(path) => std::fs::read_to_string(path)
                .map_err(|e| Error::Io(format!("cannot read {}: {e}", path.display())))?,
        };
        let value = value.trim().to_owned();
        if value.is_empty() {
            return Err(Error::Config(format!("the secret from {self:?} is empty")));
        }
        Ok(value)
    }
}

/// One carrier's endpoints and credentials.
#[derive(Debug, Clone)]
pub struct Carrier {
    /// The name the lines refer to.
    pub name: String,
    /// SIM Swap API root (`…/sim-swap/v2`), if the carrier offers it.
    pub sim_swap_url: Option<String>,
    /// Device Swap API root (`…/device-swap/v1`), if the carrier offers it.
    pub device_swap_url: Option<String>,
    /// SIM Swap Subscriptions API root (`…/sim-swap-subscriptions/v0.3`), if offered.
    pub subscriptions_url: Option<String>,
    /// The OpenID Connect token endpoint.
    pub token_url: String,
    /// The CIBA backchannel authentication endpoint (for `auth = "ciba"`).
    pub bc_authorize_url: Option<String>,
    /// Two- or three-legged.
    pub auth: AuthMode,
    /// The OAuth client id (not secret).
    pub client_id: String,
    /// Where the client secret is read from.
    pub client_secret: SecretRef,
    /// Requests in flight per endpoint of this carrier.
    pub concurrency: usize,
}

/// One watched line: a phone and its number at one carrier.
#[derive(Clone)]
pub struct Line {
    /// The device id (the MDM's name of the phone); safe to log.
    pub device: String,
    phone: String,
    /// The carrier's name in the roster.
    pub carrier: Arc<Carrier>,
    /// The keyed pin of the number under the device's pin key (64 hex), for instructions.
    pub line_pin: String,
    /// `check` with this `maxAge` (hours) instead of `retrieve-date`.
    pub check_max_age: Option<u32>,
}

impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

impl Line {
    /// The E.164 number. Only request bodies and CIBA login hints use it.
    pub fn phone(&self) -> &str {
        &self.phone
    }

    /// How logs and reports name the line: the device id and the number's last two digits.
    pub fn label(&self) -> String {
        format!("{} (…{})", self.device, &self.phone[self.phone.len() - 2..])
    }
}

/// Where carriers deliver SIM Swap Subscriptions notifications, and how they prove it is them.
#[derive(Debug, Clone)]
pub struct ListenConfig {
    /// The public HTTPS address of `carrier listen` (the subscriptions' `sink`).
    pub sink: String,
    /// The bearer token carriers present (the subscriptions' `sinkCredential`).
    pub sink_token: SecretRef,
    /// How long a subscription is asked for; `subscribe` renews before the end.
    pub subscription_days: u32,
}

/// A parsed and checked roster.
#[derive(Debug, Clone)]
pub struct Roster {
    /// Every line, in file order.
    pub lines: Vec<Line>,
    /// Every carrier by name.
    pub carriers: BTreeMap<String, Arc<Carrier>>,
    /// The notification sink, if the roster sets one.
    pub listen: Option<ListenConfig>,
}

impl Roster {
    /// Reads and checks a roster file; relative paths in it are taken from its folder.
    pub fn load(path: &Path) -> Result<Roster, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Io(format!("cannot read {}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Roster::parse(&text, base)
    }

    /// Parses roster text; `base` resolves relative paths.
    pub fn parse(text: &str, base: &Path) -> Result<Roster, Error> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            // toml's own message quotes the offending source line: it may hold a number.
            let at = e
                .span()
                .map(|s| format!(" at line {}", text[..s.start].matches('\n').count() + 1))
                .unwrap_or_default();
            Error::Roster(format!("not valid TOML{at}"))
        })?;
        for key in table.keys() {
            if key != "carrier" && key != "line" && key != "listen" {
                return Err(Error::Roster(format!(
                    "unknown top-level key `{}`; expected `carrier`, `line` and `listen`",
                    printable(key)
                )));
            }
        }
        let mut carriers = BTreeMap::new();
        if let Some(value) = table.get("carrier") {
            let t = value
                .as_table()
                .ok_or_else(|| Error::Roster("`carrier` must be a table of carriers".into()))?;
            for (name, value) in t {
                let c = parse_carrier(name, value, base)?;
                carriers.insert(name.clone(), Arc::new(c));
            }
        }
        let mut lines = Vec::new();
        let mut seen = HashSet::new();
        if let Some(value) = table.get("line") {
            let entries = value.as_array().ok_or_else(|| {
                Error::Roster("`line` must be an array of tables ([[line]])".into())
            })?;
            for (i, value) in entries.iter().enumerate() {
                let line = parse_line(i + 1, value, &carriers, base)?;
                if !seen.insert(line.device.clone()) {
                    return Err(Error::Roster(format!(
                        "line {}: field `device`: device {} appears twice",
                        i + 1,
                        line.device
                    )));
                }
                lines.push(line);
            }
        }
        if lines.is_empty() {
            return Err(Error::Roster("the roster has no [[line]] entries".into()));
        }
        let listen = table
            .get("listen")
            .map(|v| parse_listen(v, base))
            .transpose()?;
        Ok(Roster {
            lines,
            carriers,
            listen,
        })
    }

    /// The line of a device, if the roster has it.
    pub fn line(&self, device: &str) -> Option<&Line> {
        self.lines.iter().find(|l| l.device == device)
    }
}

/// A key shown in an error only if it is short and plain.
fn printable(key: &str) -> String {
    if key.len() <= 32
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        key.to_owned()
    } else {
        "(unprintable)".into()
    }
}

fn parse_carrier(name: &str, value: &toml::Value, base: &Path) -> Result<Carrier, Error> {
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !name_ok {
        return Err(Error::Roster(
            "a carrier name may use 1-64 letters, digits, - _ and . only".into(),
        ));
    }
    let at =
        |field: &str, why: &str| Error::Roster(format!("carrier {name}: field `{field}`: {why}"));
    let t = value
        .as_table()
        .ok_or_else(|| Error::Roster(format!("carrier {name}: must be a table")))?;
    const KNOWN: [&str; 10] = [
        "sim_swap_url",
        "device_swap_url",
        "subscriptions_url",
        "token_url",
        "bc_authorize_url",
        "auth",
        "client_id",
        "client_secret",
        "concurrency",
        "scope",
    ];
    for key in t.keys() {
        if !KNOWN.contains(&key.as_str()) {
            return Err(Error::Roster(format!(
                "carrier {name}: unknown field `{}`",
                printable(key)
            )));
        }
    }
    let url = |field: &str| -> Result<Option<String>, Error> {
        match t.get(field) {
            None => Ok(None),
            Some(v) => {
                let s = v.as_str().ok_or_else(|| at(field, "must be a string"))?;
                check_url(s).map_err(|why| at(field, why))?;
                Ok(Some(s.trim_end_matches('/').to_owned()))
            }
        }
    };
    let sim_swap_url = url("sim_swap_url")?;
    let device_swap_url = url("device_swap_url")?;
    let subscriptions_url = url("subscriptions_url")?;
    let token_url = url("token_url")?.ok_or_else(|| at("token_url", "is required"))?;
    let bc_authorize_url = url("bc_authorize_url")?;
    if sim_swap_url.is_none() && device_swap_url.is_none() {
        return Err(at(
            "sim_swap_url",
            "give sim_swap_url, device_swap_url or both",
        ));
    }
    let auth = match t.get("auth").map(|v| v.as_str()) {
        None | Some(Some("client_credentials")) => AuthMode::ClientCredentials,
        Some(Some("ciba")) => AuthMode::Ciba,
        _ => return Err(at("auth", "must be \"client_credentials\" or \"ciba\"")),
    };
    if auth == AuthMode::Ciba && bc_authorize_url.is_none() {
        return Err(at("bc_authorize_url", "is required when auth = \"ciba\""));
    }
    let client_id = t
        .get("client_id")
        .ok_or_else(|| at("client_id", "is required"))?
        .as_str()
        .filter(|s| !s.is_empty() && s.len() <= 256)
        .ok_or_else(|| at("client_id", "must be a non-empty string"))?
        .to_owned();
    let client_secret =
        parse_secret_ref(t.get("client_secret"), base).map_err(|why| at("client_secret", why))?;
    let concurrency = match t.get("concurrency") {
        None => 8,
        Some(v) => v
            .as_integer()
            .filter(|n| (1..=1024).contains(n))
            .ok_or_else(|| at("concurrency", "must be an integer from 1 to 1024"))?
            as usize,
    };
    if t.contains_key("scope") {
        return Err(at(
            "scope",
            "scopes are derived from the operations used; remove this field",
        ));
    }
    Ok(Carrier {
        name: name.to_owned(),
        sim_swap_url,
        device_swap_url,
        subscriptions_url,
        token_url,
        bc_authorize_url,
        auth,
        client_id,
        client_secret,
        concurrency,
    })
}

/// `{ env = "NAME" }` or `{ file = "path" }`; a plain string is refused (a pasted secret).
pub(crate) fn parse_secret_ref(
    value: Option<&toml::Value>,
    base: &Path,
) -> Result<SecretRef, &'static str> {
    let t = value
        .ok_or("is required")?
        .as_table()
        .ok_or("must be { env = \"NAME\" } or { file = \"path\" }, never the secret itself")?;
    match (t.get("env"), t.get("file"), t.len()) {
        (Some(v), None, 1) => {
            let name = v.as_str().ok_or("env must be a string")?;
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err("env must name a variable (letters, digits, _)");
            }
            Ok(SecretRef::Env(name.to_owned()))
        }
        (None, Some(v), 1) => {
            let p = v.as_str().ok_or("file must be a string")?;
            Ok(SecretRef::File(base.join(p)))
        }
        _ => Err("must be { env = \"NAME\" } or { file = \"path\" }"),
    }
}

fn parse_listen(value: &toml::Value, base: &Path) -> Result<ListenConfig, Error> {
    let at = |field: &str, why: &str| Error::Roster(format!("listen: field `{field}`: {why}"));
    let t = value
        .as_table()
        .ok_or_else(|| Error::Roster("`listen` must be a table".into()))?;
    for key in t.keys() {
        if !["sink", "sink_token", "subscription_days"].contains(&key.as_str()) {
            return Err(Error::Roster(format!(
                "listen: unknown field `{}`",
                printable(key)
            )));
        }
    }
    let sink = t
        .get("sink")
        .ok_or_else(|| at("sink", "is required"))?
        .as_str()
        .ok_or_else(|| at("sink", "must be a string"))?;
    // The contract's pattern: carriers deliver to HTTPS sinks only.
    if !sink.starts_with("https://") || check_url(sink).is_err() {
        return Err(at("sink", "must be an https URL without query or fragment"));
    }
    let sink_token =
        parse_secret_ref(t.get("sink_token"), base).map_err(|why| at("sink_token", why))?;
    let subscription_days = match t.get("subscription_days") {
        None => 30,
        Some(v) => v
            .as_integer()
            .filter(|d| (1..=365).contains(d))
            .ok_or_else(|| at("subscription_days", "must be an integer from 1 to 365"))?
            as u32,
    };
    Ok(ListenConfig {
        sink: sink.to_owned(),
        sink_token,
        subscription_days,
    })
}

fn check_url(s: &str) -> Result<(), &'static str> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or("must be an http or https URL")?;
    if rest.is_empty() || s.len() > 2048 || s.contains(['?', '#', ' ']) {
        return Err("must be an API root URL without query or fragment");
    }
    Ok(())
}

/// Whether a device id is safe in file names, logs and instruction ids.
pub fn valid_device_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        && !id.starts_with('.')
}

/// CAMARA's `PhoneNumber`: `^\+[1-9][0-9]{4,14}$`.
pub fn valid_phone(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() >= 6
        && b.len() <= 16
        && b[0] == b'+'
        && (b'1'..=b'9').contains(&b[1])
        && b[2..].iter().all(u8::is_ascii_digit)
}

fn parse_line(
    n: usize,
    value: &toml::Value,
    carriers: &BTreeMap<String, Arc<Carrier>>,
    base: &Path,
) -> Result<Line, Error> {
    let at = |field: &str, why: &str| Error::Roster(format!("line {n}: field `{field}`: {why}"));
    let t = value
        .as_table()
        .ok_or_else(|| Error::Roster(format!("line {n}: must be a table")))?;
    for key in t.keys() {
        if !["device", "phone", "carrier", "pin_key", "check_max_age"].contains(&key.as_str()) {
            return Err(Error::Roster(format!(
                "line {n}: unknown field `{}`",
                printable(key)
            )));
        }
    }
    let string = |field: &str| -> Result<&str, Error> {
        t.get(field)
            .ok_or_else(|| at(field, "is required"))?
            .as_str()
            .ok_or_else(|| at(field, "must be a string"))
    };
    let device = string("device")?;
    if !valid_device_id(device) {
        return Err(at(
            "device",
            "must be 1-64 characters of letters, digits, . _ : - (not starting with .)",
        ));
    }
    let phone = string("phone")?;
    if !valid_phone(phone) {
        return Err(at(
            "phone",
            "must be an E.164 number: + then 5 to 15 digits, no spaces",
        ));
    }
    let carrier_name = string("carrier")?;
    let carrier = carriers
        .get(carrier_name)
        .ok_or_else(|| at("carrier", "names no [carrier.NAME] table in the roster"))?
        .clone();
    let pin_path = base.join(string("pin_key")?);
    let pin_text = std::fs::read_to_string(&pin_path).map_err(|e| {
        at(
            "pin_key",
            &format!("cannot read {}: {e}", pin_path.display()),
        )
    })?;
    let pin_bytes = unhex32(pin_text.trim()).ok_or_else(|| {
        at(
            "pin_key",
            &format!("{}: the pin key must be 64 hex digits", pin_path.display()),
        )
    })?;
    let line_pin = PinKey::new(&pin_bytes)
        .pin(IdentityKind::PhoneNumber, phone)
        .map_err(|_| at("phone", "cannot be pinned"))?;
    let line_pin = crate::hex(&line_pin.0);
    let check_max_age = match t.get("check_max_age") {
        None => None,
        Some(v) => Some(
            v.as_integer()
                .filter(|h| (1..=2400).contains(h))
                .ok_or_else(|| {
                    at(
                        "check_max_age",
                        "must be an integer number of hours from 1 to 2400",
                    )
                })? as u32,
        ),
    };
    Ok(Line {
        device: device.to_owned(),
        phone: phone.to_owned(),
        carrier,
        line_pin,
        check_max_age,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NUMBER: &str = "+447700900123";

    fn roster_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pin.key"), "11".repeat(32)).unwrap();
        dir
    }

    fn text(line_extra: &str) -> String {
        format!(
            r#"
[carrier.acme]
sim_swap_url = "https://api.acme.example/sim-swap/v2/"
device_swap_url = "https://api.acme.example/device-swap/v1"
token_url = "https://auth.acme.example/token"
client_id = "console"
client_secret = {{ env = "ACME_SECRET" }}

[[line]]
device = "minister-01"
phone = "{NUMBER}"
carrier = "acme"
pin_key = "pin.key"
{line_extra}
"#
        )
    }

    #[test]
    fn a_good_roster_parses_and_pins_the_number() {
        let dir = roster_dir();
        let r = Roster::parse(&text("check_max_age = 24"), dir.path()).unwrap();
        assert_eq!(r.lines.len(), 1);
        let line = &r.lines[0];
        assert_eq!(line.label(), "minister-01 (…23)");
        assert_eq!(line.check_max_age, Some(24));
        assert_eq!(
            line.carrier.sim_swap_url.as_deref(),
            Some("https://api.acme.example/sim-swap/v2")
        );
        let expected = PinKey::new(&[0x11; 32])
            .pin(IdentityKind::PhoneNumber, NUMBER)
            .unwrap();
        assert_eq!(line.line_pin, crate::hex(&expected.0));
        assert!(!format!("{line:?}").contains("7700900123"));
    }

    #[test]
    fn errors_name_the_line_and_field_but_never_the_number() {
        let dir = roster_dir();
        let cases = [
            (text("").replace(NUMBER, "+44 7700 900123"), "line 1: field `phone`"),
            (text("check_max_age = 0"), "line 1: field `check_max_age`"),
            (text("colour = \"red\""), "line 1: unknown field `colour`"),
            (text("").replace("carrier = \"acme\"", "carrier = \"other\""), "line 1: field `carrier`"),
            (text("").replace("pin.key", "missing.key"), "line 1: field `pin_key`"),
            (
                text("").replace("{ env = \"ACME_SECRET\" }", "\"s3cr3t-value\""),
                "carrier acme: field `client_secret`",
            ),
            (text("").replace("https://auth", "ftp://auth"), "carrier acme: field `token_url`"),
            (format!("{}\n[[line]]\nphone = \"{NUMBER}\n", text("")), "not valid TOML at line"),
            (
                format!(
                    "{}\n[[line]]\ndevice = \"minister-01\"\nphone = \"{NUMBER}\"\ncarrier = \"acme\"\npin_key = \"pin.key\"\n",
                    text("")
                ),
                "line 2: field `device`",
            ),
        ];
        for (input, expected) in cases {
            let err = Roster::parse(&input, dir.path()).unwrap_err().to_string();
            assert!(err.contains(expected), "{err} lacks {expected}");
            assert!(
                !err.contains("7700900123") && !err.contains("7700 900123"),
                "{err}"
            );
            assert!(!err.contains("s3cr3t"), "{err}");
        }
    }

    #[test]
    fn ciba_needs_its_endpoint() {
        let dir = roster_dir();
        let err = Roster::parse(
            &text("").replace("client_id", "auth = \"ciba\"\nclient_id"),
            dir.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("bc_authorize_url"), "{err}");
    }

    #[test]
    fn phone_numbers_follow_the_camara_pattern() {
        for ok in ["+447700900123", "+12345", "+123456789012345"] {
            assert!(valid_phone(ok), "{ok}");
        }
        for bad in [
            "447700900123",
            "+04477",
            "+1234",
            "+1234567890123456",
            "+44 7700",
            "+44a",
        ] {
            assert!(!valid_phone(bad), "{bad}");
        }
    }

    #[test]
    fn secrets_come_from_files_or_the_environment() {
        let dir = roster_dir();
        std::fs::write(dir.path().join("s"), "  the-secret\n").unwrap();
        let file: toml::Value =
            toml::from_str::<toml::Table>("v = { file = \"s\" }").unwrap()["v"].clone();
        let r = parse_secret_ref(Some(&file), dir.path()).unwrap();
        assert_eq!(r.read().unwrap(), "the-secret");
        let env: toml::Value =
            toml::from_str::<toml::Table>("v = { env = \"PORTCULLIS_TEST_UNSET_VAR\" }").unwrap()
                ["v"]
                .clone();
        let err = parse_secret_ref(Some(&env), dir.path())
            .unwrap()
            .read()
            .unwrap_err()
            .to_string();
        assert!(err.contains("PORTCULLIS_TEST_UNSET_VAR"), "{err}");
    }
}
