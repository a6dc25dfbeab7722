//! The chain decoder: a PEM file of `CERTIFICATE` blocks, leaf first, into DER.

use der::pem;

use crate::chain::MAX_CHAIN_LEN;
use crate::{Reason, Refusal};

/// The largest chain file accepted (a five-certificate RSA-4096 chain is about 9 KB).
pub const MAX_CHAIN_INPUT_BYTES: usize = 256 * 1024;

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";

/// Splits a PEM chain into DER certificates, in file order (leaf first).
///
/// Text outside the blocks (comments, `openssl` headers) is ignored; every block must
/// be a well-formed RFC 7468 `CERTIFICATE`. At most [`MAX_CHAIN_LEN`] certificates and
/// [`MAX_CHAIN_INPUT_BYTES`] bytes are read, so a hostile file costs little.
pub fn decode_pem_chain(input: &[u8]) -> Result<Vec<Vec<u8>>, Refusal> {
    if input.len() > MAX_CHAIN_INPUT_BYTES {
        return Err(Refusal::new(
            Reason::MalformedPem,
            format!(
                "the chain file has {} bytes; at most {MAX_CHAIN_INPUT_BYTES} are read",
                input.len()
            ),
        ));
    }
    let mut certs = Vec::new();
    let mut rest = input;
    while let Some(start) = find(rest, BEGIN) {
        let block = &rest[start..];
        // The block ends after the END line's closing dashes.
        let end_line = find(block, END).ok_or_else(|| {
            Refusal::new(
                Reason::MalformedPem,
                format!("PEM block {} has no END line", certs.len()),
            )
        })?;
        let after_end = &block[end_line + END.len()..];
        let close = find(after_end, b"-----").ok_or_else(|| {
            Refusal::new(
                Reason::MalformedPem,
                format!("PEM block {} has an unterminated END line", certs.len()),
            )
        })?;
        let len = end_line + END.len() + close + 5;
        let (label, der) = pem::decode_vec(&block[..len]).map_err(|e| {
            Refusal::new(
                Reason::MalformedPem,
                format!("PEM block {} does not decode: {e}", certs.len()),
            )
        })?;
        if label != "CERTIFICATE" {
            return Err(Refusal::new(
                Reason::MalformedPem,
                format!(
                    "PEM block {} is a {label:?}, not a CERTIFICATE",
                    certs.len()
                ),
            ));
        }
        if certs.len() == MAX_CHAIN_LEN {
            return Err(Refusal::new(
                Reason::ChainTooLong,
                format!("more than {MAX_CHAIN_LEN} certificates"),
            ));
        }
        certs.push(der);
        rest = &block[len..];
    }
    if certs.is_empty() {
        return Err(Refusal::new(
            Reason::MalformedPem,
            "no PEM CERTIFICATE block found",
        ));
    }
    Ok(certs)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_garbage_are_refused() {
        for input in [
            &b""[..],
            b"not a certificate",
            b"-----BEGIN CERTIFICATE-----\nAAAA",
        ] {
            let e = decode_pem_chain(input).unwrap_err();
            assert_eq!(e.code, Reason::MalformedPem, "{e}");
        }
    }

    #[test]
    fn other_labels_are_refused() {
        let text = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let e = decode_pem_chain(text).unwrap_err();
        assert_eq!(e.code, Reason::MalformedPem);
        assert!(e.message.contains("PRIVATE KEY"), "{e}");
    }
}
