//! Free text in instructions (reasons, notices): it is journaled, alerted and shown,
//! so it must never carry a phone identifier or anything that could drive a terminal.

use super::invalid;
use crate::redact::looks_like_identifier;

/// Checks one free-text field: present, at most `max_bytes`, no control characters
/// (line breaks only where `multiline`), and nothing shaped like an identifier. The
/// error names the field, never the text.
pub(crate) fn check_free_text(
    field: &str,
    text: &str,
    max_bytes: usize,
    multiline: bool,
) -> crate::Result<()> {
    if text.trim().is_empty() {
        return Err(invalid(field, "is empty"));
    }
    if text.len() > max_bytes {
        return Err(invalid(field, &format!("longer than {max_bytes} bytes")));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !(multiline && c == '\n'))
    {
        return Err(invalid(field, "contains control characters"));
    }
    if looks_like_identifier(text) {
        return Err(invalid(
            field,
            "contains a long run of digits, which could be a phone number, IMSI or ICCID; refer to the line by device id instead",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_in_any_format_are_caught() {
        for text in crate::redact::IDENTIFIER_SAMPLES {
            assert!(check_free_text("body.reason", text, 512, false).is_err());
        }
    }

    #[test]
    fn ordinary_reasons_pass() {
        for text in [
            "ticket 4242: replacement SIM after water damage",
            "planned replacement on 2026-03-01 at 10:00",
            "office visit",
        ] {
            assert!(
                check_free_text("body.reason", text, 512, false).is_ok(),
                "{text}"
            );
        }
    }

    #[test]
    fn control_characters_and_empty_text_are_refused() {
        assert!(check_free_text("body.title", "\u{1b}[2JClean", 80, false).is_err());
        assert!(check_free_text("body.title", "two\nlines", 80, false).is_err());
        assert!(check_free_text("body.body", "two\nlines", 80, true).is_ok());
        assert!(check_free_text("body.title", "  ", 80, false).is_err());
        let err = check_free_text("body.reason", "x".repeat(600).as_str(), 512, false).unwrap_err();
        assert!(
            matches!(
                &err,
                crate::Error::Policy(crate::policy::PolicyError::InvalidInstruction { path, .. })
                    if path == "body.reason"
            ),
            "{err}"
        );
    }
}
