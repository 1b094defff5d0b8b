//! The detail of the last failure, kept per thread.
//!
//! Every function that returns `tallyfy_status` clears the calling thread's
//! detail when it starts and stores a new one when it fails. The getters, the
//! `_free` functions, `tallyfy_status_str` and `tallyfy_version` leave it
//! alone, so a caller can read every field, and free what it holds, before
//! the next call that returns a status replaces it.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};

use crate::error::{ApiErrorDetail, Error, ErrorKind};

use super::boundary::guard;
use super::status::{
    status_of_kind, tallyfy_status, TALLYFY_INTERNAL_ERROR, TALLYFY_INVALID_ARGUMENT, TALLYFY_OK,
};

/// The detail of one failed call, before it is stored for C.
///
/// Kept small, with the rarer API detail boxed, because every argument check
/// returns it.
#[derive(Debug)]
pub(crate) struct ErrorDetail {
    pub(crate) status: tallyfy_status,
    pub(crate) message: String,
    /// The detail that the API sent with an error status.
    pub(crate) api: Option<Box<ApiErrorDetail>>,
    pub(crate) os_errno: i32,
    /// Whether the message should start with the name of the C function,
    /// as for argument errors, which depend on the call more than on the file.
    name_function: bool,
}

impl ErrorDetail {
    /// Builds a `TALLYFY_INVALID_ARGUMENT` detail for a bad argument.
    pub(crate) fn argument(message: String) -> Self {
        ErrorDetail::new(TALLYFY_INVALID_ARGUMENT, message, true)
    }

    /// Builds the detail of a panic caught at the boundary.
    pub(crate) fn internal(panic_message: &str) -> Self {
        ErrorDetail::new(
            TALLYFY_INTERNAL_ERROR,
            format!("internal error: {panic_message}; this is a bug in tallyfy-files, please report it"),
            true,
        )
    }

    fn new(status: tallyfy_status, message: String, name_function: bool) -> Self {
        ErrorDetail {
            status,
            message,
            api: None,
            os_errno: 0,
            name_function,
        }
    }

    /// Prefixes the message with the C function's name, when it should have it.
    pub(crate) fn in_function(mut self, function: &str) -> Self {
        if self.name_function {
            self.message = format!("{function}: {}", self.message);
            self.name_function = false;
        }
        self
    }
}

impl From<Error> for ErrorDetail {
    fn from(error: Error) -> Self {
        let kind = error.kind();
        let mut detail = ErrorDetail::new(
            status_of_kind(kind),
            error.to_string(),
            kind == ErrorKind::InvalidArgument,
        );

        detail.api = error.api_detail().cloned().map(Box::new);
        detail.os_errno = error.os_error().unwrap_or(0);
        detail
    }
}

/// The detail as C reads it: NUL-terminated copies that live until replaced.
struct StoredDetail {
    status: tallyfy_status,
    message: CString,
    http_status: u16,
    api_code: Option<CString>,
    api_message: Option<CString>,
    request_id: Option<CString>,
    os_errno: i32,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<StoredDetail>> = const { RefCell::new(None) };
}

/// Copies text into a C string, dropping NUL characters that a server may
/// have put in its JSON, since C would cut the text at the first one.
fn c_string(text: String) -> CString {
    CString::new(text).unwrap_or_else(|e| {
        let bytes: Vec<u8> = e.into_vec().into_iter().filter(|&b| b != 0).collect();
        CString::new(bytes).expect("NUL bytes were removed")
    })
}

/// Forgets the calling thread's last failure.
pub(crate) fn clear() {
    // try_with fails only while the thread is being torn down.
    let _ = LAST_ERROR.try_with(|slot| slot.borrow_mut().take());
}

/// Stores the detail of a failure for the calling thread and returns its status.
pub(crate) fn store(detail: ErrorDetail) -> tallyfy_status {
    let status = detail.status;
    let api = detail.api.map(|api| *api).unwrap_or_default();
    let stored = StoredDetail {
        status,
        message: c_string(detail.message),
        http_status: api.status,
        api_code: api.code.map(c_string),
        api_message: api.message.map(c_string),
        request_id: api.request_id.map(c_string),
        os_errno: detail.os_errno,
    };
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = Some(stored));
    status
}

/// Reads one field of the stored detail, or returns `absent` when there is none.
fn read<T: Copy>(absent: T, field: impl FnOnce(&StoredDetail) -> T) -> T {
    guard(absent, move || {
        LAST_ERROR
            .try_with(|slot| slot.borrow().as_ref().map(field))
            .ok()
            .flatten()
            .unwrap_or(absent)
    })
}

fn optional_text(text: &Option<CString>) -> *const c_char {
    text.as_ref().map_or(std::ptr::null(), |text| text.as_ptr())
}

/// Returns the status of the calling thread's last failed call, or
/// `TALLYFY_OK` when its last call that returns a status succeeded.
#[no_mangle]
pub extern "C" fn tallyfy_last_error_status() -> tallyfy_status {
    read(TALLYFY_OK, |detail| detail.status)
}

/// Returns a human-readable English message for the calling thread's last
/// failure: what failed, on which file or argument, and what to do next.
///
/// Returns "" (never NULL) when there is no failure to report. The message
/// never contains the access token. The string belongs to the library and
/// stays valid until the same thread calls a function that returns
/// `tallyfy_status`.
#[no_mangle]
pub extern "C" fn tallyfy_last_error_message() -> *const c_char {
    read(c"".as_ptr(), |detail| detail.message.as_ptr())
}

/// Returns the HTTP status of the calling thread's last failure, such as 404,
/// or 0 when the failure was not an HTTP error status.
#[no_mangle]
pub extern "C" fn tallyfy_last_error_http_status() -> u16 {
    read(0, |detail| detail.http_status)
}

/// Returns the `code` field of the API's JSON error body, such as
/// "RESOURCE_NOT_FOUND", or NULL when the last failure had none.
///
/// Valid until the same thread calls a function that returns `tallyfy_status`.
#[no_mangle]
pub extern "C" fn tallyfy_last_error_api_code() -> *const c_char {
    read(std::ptr::null(), |detail| optional_text(&detail.api_code))
}

/// Returns the `message` field of the API's JSON error body, or NULL when
/// the last failure had none.
///
/// Valid until the same thread calls a function that returns `tallyfy_status`.
#[no_mangle]
pub extern "C" fn tallyfy_last_error_api_message() -> *const c_char {
    read(std::ptr::null(), |detail| optional_text(&detail.api_message))
}

/// Returns the `X-Request-Id` header of the error response, to quote to
/// Tallyfy support, or NULL when the server sent none.
///
/// Valid until the same thread calls a function that returns `tallyfy_status`.
#[no_mangle]
pub extern "C" fn tallyfy_last_error_request_id() -> *const c_char {
    read(std::ptr::null(), |detail| optional_text(&detail.request_id))
}

/// Returns the operating system's error number (an `errno` value such as
/// `ENOSPC`) behind the last `TALLYFY_IO_ERROR` or `TALLYFY_WRITE_ERROR`, or
/// 0 when the failure had none.
#[no_mangle]
pub extern "C" fn tallyfy_last_error_os_errno() -> c_int {
    read(0, |detail| detail.os_errno)
}

#[cfg(test)]
pub(crate) fn message_for_tests() -> String {
    let pointer = tallyfy_last_error_message();
    unsafe { std::ffi::CStr::from_ptr(pointer) }
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_are_dropped() {
        assert_eq!(c_string("a\0b".to_string()).as_bytes(), b"ab");
    }

    #[test]
    fn api_detail_is_read_back() {
        let error = Error::NotFound {
            file_id: "f1".to_string(),
            detail: crate::ApiErrorDetail {
                status: 404,
                code: Some("RESOURCE_NOT_FOUND".to_string()),
                message: Some("File not found".to_string()),
                request_id: Some("req-7".to_string()),
            },
        };
        store(ErrorDetail::from(error).in_function("tallyfy_test"));

        let text = |pointer: *const c_char| unsafe { std::ffi::CStr::from_ptr(pointer) }.to_str().unwrap();
        assert_eq!(tallyfy_last_error_status(), 4);
        assert_eq!(tallyfy_last_error_http_status(), 404);
        assert_eq!(text(tallyfy_last_error_api_code()), "RESOURCE_NOT_FOUND");
        assert_eq!(text(tallyfy_last_error_api_message()), "File not found");
        assert_eq!(text(tallyfy_last_error_request_id()), "req-7");
        assert!(
            !message_for_tests().starts_with("tallyfy_test"),
            "{}",
            message_for_tests()
        );

        clear();
        assert!(tallyfy_last_error_api_code().is_null());
        assert_eq!(tallyfy_last_error_status(), TALLYFY_OK);
    }
}
