//! Validation of organization and file IDs before they reach a URL.
//!
//! An ID becomes one path segment of a request that carries the user's token,
//! so a value that could change the path, the query or the fragment is rejected
//! before anything is sent.

use crate::error::Error;

/// The longest ID accepted, in bytes. Tallyfy IDs are 32 hexadecimal digits.
const MAX_ID_LEN: usize = 256;

/// Checks that `value` can stand alone as one URL path segment.
///
/// `what` names the value in the error message, such as "file ID".
///
/// # Errors
///
/// [`Error::InvalidArgument`] when the value is empty, longer than 256 bytes,
/// `.` or `..`, or contains `/`, `\`, `?`, `#`, `%`, white space or a control
/// character.
pub fn validate_id(what: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::InvalidArgument(format!("{what} is empty")));
    }
    if value.len() > MAX_ID_LEN {
        return Err(Error::InvalidArgument(format!(
            "{what} is {} bytes long; the maximum is {MAX_ID_LEN}",
            value.len()
        )));
    }
    if value == "." || value == ".." {
        return Err(Error::InvalidArgument(format!(
            "{what} '{value}' is not a valid ID"
        )));
    }

    let forbidden =
        |c: char| matches!(c, '/' | '\\' | '?' | '#' | '%') || c.is_whitespace() || c.is_control();
    if let Some(bad) = value.chars().find(|&c| forbidden(c)) {
        return Err(Error::InvalidArgument(format!(
            "{what} {value:?} contains the character {bad:?}, which is not allowed in an ID"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate_id;

    #[test]
    fn accepts_hex_id() {
        assert!(validate_id("file ID", "0123456789abcdef0123456789abcdef").is_ok());
    }

    #[test]
    fn rejects_each_bad_form() {
        let long = "a".repeat(257);
        for bad in [
            "", ".", "..", "a/b", "a\\b", "a?b", "a#b", "a%2e", "a b", "a\tb", "a\nb", "a\u{0}b", "\u{a0}x",
            &long,
        ] {
            assert!(validate_id("file ID", bad).is_err(), "accepted {bad:?}");
        }
    }
}
