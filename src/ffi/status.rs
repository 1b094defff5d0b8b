//! Status codes returned by every fallible function, and their static strings.
//!
//! `tallyfy_status` is a fixed-width integer rather than a C enum, so that
//! its size never depends on compiler flags and `tallyfy_status_str` can take
//! any value, unknown ones included, without undefined behaviour.
//!
//! Values 1 to 99 are the numbers of the Rust [`ErrorKind`]; values from 100
//! on belong to the C layer. A value is never reused for another meaning:
//! when a code is retired, its number stays listed here as reserved.

use std::ffi::{c_char, CStr};

use crate::error::ErrorKind;

use super::boundary::guard;

/// The result of a fallible call: `TALLYFY_OK` (0) or one of the error codes
/// below. After an error, the `tallyfy_last_error_*` functions give the detail.
pub type tallyfy_status = i32;

/// The call succeeded.
pub const TALLYFY_OK: tallyfy_status = 0;

/// An argument was NULL, not NUL-terminated UTF-8, out of range, or rejected
/// by the library (such as a malformed file ID); nothing was sent.
pub const TALLYFY_INVALID_ARGUMENT: tallyfy_status = 1;

/// The server returned 401: the access token is missing, invalid or expired.
pub const TALLYFY_UNAUTHORIZED: tallyfy_status = 2;

/// The server returned 403: the token has no access to this file.
pub const TALLYFY_FORBIDDEN: tallyfy_status = 3;

/// The server returned 404: no such file in this organization.
pub const TALLYFY_NOT_FOUND: tallyfy_status = 4;

/// The server returned 429: too many requests, even after the retries allowed.
pub const TALLYFY_RATE_LIMITED: tallyfy_status = 5;

/// The server returned another error status; `tallyfy_last_error_http_status`
/// returns it.
pub const TALLYFY_HTTP_STATUS: tallyfy_status = 6;

/// The connect timeout, the stall timeout or the overall deadline expired.
pub const TALLYFY_TIMEOUT: tallyfy_status = 7;

/// The host name did not resolve, or the connection failed or was reset.
pub const TALLYFY_CONNECTION: tallyfy_status = 8;

/// The TLS handshake or the certificate verification failed.
pub const TALLYFY_TLS: tallyfy_status = 9;

/// The connection ended before the whole body arrived.
pub const TALLYFY_TRUNCATED: tallyfy_status = 10;

/// The file is larger than the maximum size set for the download.
pub const TALLYFY_TOO_LARGE: tallyfy_status = 11;

/// The file does not fit in the caller's buffer. `*out_len` receives the
/// size needed when the server declared it.
pub const TALLYFY_BUFFER_TOO_SMALL: tallyfy_status = 12;

/// The destination file exists and the caller asked not to replace it.
pub const TALLYFY_DESTINATION_EXISTS: tallyfy_status = 13;

/// A local file-system operation failed. `tallyfy_last_error_os_errno`
/// returns the errno when there is one.
pub const TALLYFY_IO_ERROR: tallyfy_status = 14;

/// The progress callback returned non-zero and the download stopped.
pub const TALLYFY_ABORTED_BY_CALLBACK: tallyfy_status = 15;

/// A redirect was refused: a downgrade to http, a bad location, or too many.
pub const TALLYFY_REDIRECT_REFUSED: tallyfy_status = 16;

/// The write callback took fewer bytes than offered, or writing to the file
/// descriptor failed (`tallyfy_last_error_os_errno` returns the errno).
pub const TALLYFY_WRITE_ERROR: tallyfy_status = 17;

/// The server sent a response that is not valid HTTP.
pub const TALLYFY_PROTOCOL_ERROR: tallyfy_status = 18;

/// A bug in the library (a Rust panic) was caught at the C boundary, and the
/// call wrote none of its outputs. Please report it with the message.
pub const TALLYFY_INTERNAL_ERROR: tallyfy_status = 100;

/// `tallyfy_set_log_callback` could not install the library's logger,
/// because a Rust program in the same process installed its own logger with
/// the `log` crate first.
pub const TALLYFY_LOGGER_UNAVAILABLE: tallyfy_status = 101;

/// Returns the status code for a kind of core error.
///
/// The match has no catch-all arm, so a new `ErrorKind` does not compile
/// until it has a status code here and in the header.
pub(crate) fn status_of_kind(kind: ErrorKind) -> tallyfy_status {
    match kind {
        ErrorKind::InvalidArgument => TALLYFY_INVALID_ARGUMENT,
        ErrorKind::Unauthorized => TALLYFY_UNAUTHORIZED,
        ErrorKind::Forbidden => TALLYFY_FORBIDDEN,
        ErrorKind::NotFound => TALLYFY_NOT_FOUND,
        ErrorKind::RateLimited => TALLYFY_RATE_LIMITED,
        ErrorKind::HttpStatus => TALLYFY_HTTP_STATUS,
        ErrorKind::Timeout => TALLYFY_TIMEOUT,
        ErrorKind::Connection => TALLYFY_CONNECTION,
        ErrorKind::Tls => TALLYFY_TLS,
        ErrorKind::Truncated => TALLYFY_TRUNCATED,
        ErrorKind::TooLarge => TALLYFY_TOO_LARGE,
        ErrorKind::BufferTooSmall => TALLYFY_BUFFER_TOO_SMALL,
        ErrorKind::DestinationExists => TALLYFY_DESTINATION_EXISTS,
        ErrorKind::Io => TALLYFY_IO_ERROR,
        ErrorKind::AbortedByCallback => TALLYFY_ABORTED_BY_CALLBACK,
        ErrorKind::RedirectRefused => TALLYFY_REDIRECT_REFUSED,
        ErrorKind::Write => TALLYFY_WRITE_ERROR,
        ErrorKind::Protocol => TALLYFY_PROTOCOL_ERROR,
    }
}

/// Returns the static description of a status code.
fn describe(status: tallyfy_status) -> &'static CStr {
    match status {
        TALLYFY_OK => c"success",
        TALLYFY_INVALID_ARGUMENT => c"invalid argument",
        TALLYFY_UNAUTHORIZED => c"unauthorized (HTTP 401): the access token is missing, invalid or expired",
        TALLYFY_FORBIDDEN => c"forbidden (HTTP 403): the token has no access to this file",
        TALLYFY_NOT_FOUND => c"not found (HTTP 404): no such file in this organization",
        TALLYFY_RATE_LIMITED => c"rate limited (HTTP 429): too many requests",
        TALLYFY_HTTP_STATUS => c"the server returned an HTTP error status",
        TALLYFY_TIMEOUT => c"timed out",
        TALLYFY_CONNECTION => c"connection failed",
        TALLYFY_TLS => c"TLS handshake or certificate verification failed",
        TALLYFY_TRUNCATED => c"the connection ended before the whole file arrived",
        TALLYFY_TOO_LARGE => c"the file is larger than the maximum size",
        TALLYFY_BUFFER_TOO_SMALL => c"the file does not fit in the buffer",
        TALLYFY_DESTINATION_EXISTS => c"the destination file already exists",
        TALLYFY_IO_ERROR => c"local file-system error",
        TALLYFY_ABORTED_BY_CALLBACK => c"stopped by the progress callback",
        TALLYFY_REDIRECT_REFUSED => c"redirect refused",
        TALLYFY_WRITE_ERROR => c"writing the downloaded data failed",
        TALLYFY_PROTOCOL_ERROR => c"invalid HTTP response",
        TALLYFY_INTERNAL_ERROR => c"internal error in the tallyfy-files library",
        TALLYFY_LOGGER_UNAVAILABLE => c"another logger is installed in this process",
        _ => c"unknown tallyfy_status value",
    }
}

/// Returns a static, NUL-terminated English description of `status`.
///
/// Every value has one: values that are not a `TALLYFY_*` code return
/// "unknown tallyfy_status value". The string must not be freed. For the
/// detail of a particular failure, use `tallyfy_last_error_message`.
/// Thread-safe; does not change the last-error detail.
#[no_mangle]
pub extern "C" fn tallyfy_status_str(status: tallyfy_status) -> *const c_char {
    guard(c"internal error".as_ptr(), || describe(status).as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_KINDS: [ErrorKind; 18] = [
        ErrorKind::InvalidArgument,
        ErrorKind::Unauthorized,
        ErrorKind::Forbidden,
        ErrorKind::NotFound,
        ErrorKind::RateLimited,
        ErrorKind::HttpStatus,
        ErrorKind::Timeout,
        ErrorKind::Connection,
        ErrorKind::Tls,
        ErrorKind::Truncated,
        ErrorKind::TooLarge,
        ErrorKind::BufferTooSmall,
        ErrorKind::DestinationExists,
        ErrorKind::Io,
        ErrorKind::AbortedByCallback,
        ErrorKind::RedirectRefused,
        ErrorKind::Write,
        ErrorKind::Protocol,
    ];

    #[test]
    fn status_mirrors_error_kind_numbers() {
        for kind in ALL_KINDS {
            assert_eq!(status_of_kind(kind), kind as i32, "status of {kind:?}");
        }
    }

    #[test]
    fn every_code_has_its_own_string() {
        let unknown = describe(-1);
        let mut seen = Vec::new();
        for status in (0..=18).chain([TALLYFY_INTERNAL_ERROR, TALLYFY_LOGGER_UNAVAILABLE]) {
            let text = describe(status);
            assert_ne!(text, unknown, "status {status} has no description");
            assert!(!seen.contains(&text), "status {status} repeats {text:?}");
            seen.push(text);
        }
    }

    #[test]
    fn unknown_codes_have_a_string() {
        for status in [-1, 19, 99, 102, i32::MIN, i32::MAX] {
            let text = unsafe { CStr::from_ptr(tallyfy_status_str(status)) };
            assert_eq!(text, c"unknown tallyfy_status value", "status {status}");
        }
    }
}
