//! The boundary between C and Rust: the one place that catches panics, and
//! the checks that turn raw pointers and C strings into Rust values.
//!
//! Every export runs its body through [`guard`] (for functions that return a
//! value or nothing) or [`run`] (for functions that return `tallyfy_status`).
//! Both are built on one `catch_unwind`, so that no panic unwinds into C.
//!
//! Argument checks return [`ErrorDetail::argument`] errors, which [`run`]
//! prefixes with the name of the C function, so that the message names the
//! call that was wrong.

use std::any::Any;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

use super::last_error::{self, ErrorDetail};
use super::status::{tallyfy_status, TALLYFY_OK};

/// Runs `body`, returning `on_panic` instead if it panics.
///
/// The default panic hook still prints the panic message on stderr.
pub(crate) fn guard<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    catch_panic(body, |_| on_panic)
}

/// Runs the body of a function that returns `tallyfy_status`.
///
/// Clears the calling thread's last-error detail first, then stores the
/// detail of a failure. A panic becomes `TALLYFY_INTERNAL_ERROR` with the
/// panic message in the detail.
pub(crate) fn run(function: &'static str, body: impl FnOnce() -> Result<(), ErrorDetail>) -> tallyfy_status {
    last_error::clear();

    let result = catch_panic(body, |message| Err(ErrorDetail::internal(&message)));

    match result {
        Ok(()) => TALLYFY_OK,
        Err(detail) => last_error::store(detail.in_function(function)),
    }
}

/// Runs `body`, passing the panic message to `on_panic` if it panics. This is
/// the only `catch_unwind` of the C layer.
fn catch_panic<T>(body: impl FnOnce() -> T, on_panic: impl FnOnce(String) -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(panic) => on_panic(panic_message(panic.as_ref())),
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Borrows the object behind a pointer argument, rejecting NULL.
///
/// # Safety
///
/// A non-NULL `pointer` must point to a live `T` that nothing mutates for `'a`.
pub(crate) unsafe fn arg_ref<'a, T>(pointer: *const T, name: &str) -> Result<&'a T, ErrorDetail> {
    // SAFETY: the caller guarantees that a non-NULL pointer is valid for 'a.
    unsafe { pointer.as_ref() }.ok_or_else(|| null_argument(name))
}

/// Borrows the object behind a pointer argument mutably, rejecting NULL.
///
/// # Safety
///
/// A non-NULL `pointer` must point to a live `T` that nothing else uses for `'a`.
pub(crate) unsafe fn arg_mut<'a, T>(pointer: *mut T, name: &str) -> Result<&'a mut T, ErrorDetail> {
    // SAFETY: the caller guarantees that a non-NULL pointer is valid and unaliased for 'a.
    unsafe { pointer.as_mut() }.ok_or_else(|| null_argument(name))
}

/// Borrows an optional object: NULL gives `None`.
///
/// # Safety
///
/// As for [`arg_ref`].
pub(crate) unsafe fn optional_ref<'a, T>(pointer: *const T) -> Option<&'a T> {
    // SAFETY: the caller guarantees that a non-NULL pointer is valid for 'a.
    unsafe { pointer.as_ref() }
}

/// Reads a NUL-terminated UTF-8 string argument, rejecting NULL and invalid UTF-8.
///
/// The error never repeats the string, because it may be an access token.
///
/// # Safety
///
/// A non-NULL `pointer` must point to a NUL-terminated string that stays
/// unchanged for `'a`.
pub(crate) unsafe fn arg_str<'a>(pointer: *const c_char, name: &str) -> Result<&'a str, ErrorDetail> {
    if pointer.is_null() {
        return Err(null_argument(name));
    }

    // SAFETY: the caller guarantees a NUL-terminated string that lives for 'a.
    let text = unsafe { CStr::from_ptr(pointer) };
    text.to_str().map_err(|e| {
        ErrorDetail::argument(format!(
            "the argument '{name}' is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// Builds the error for a NULL pointer argument.
pub(crate) fn null_argument(name: &str) -> ErrorDetail {
    ErrorDetail::argument(format!("the argument '{name}' is NULL"))
}

/// A checked, non-NULL output pointer, written at most once on success.
///
/// Output pointers may point to uninitialised memory, so the slot is only
/// ever written, never read or borrowed.
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// Checks a required output pointer, rejecting NULL.
    pub(crate) fn required(pointer: *mut T, name: &str) -> Result<Self, ErrorDetail> {
        NonNull::new(pointer).map(Out).ok_or_else(|| null_argument(name))
    }

    /// Checks an optional output pointer: NULL means the caller does not want it.
    pub(crate) fn optional(pointer: *mut T) -> Option<Self> {
        NonNull::new(pointer).map(Out)
    }

    /// Stores `value` in the caller's slot.
    ///
    /// # Safety
    ///
    /// The pointer must be valid for a write of one aligned `T`.
    pub(crate) unsafe fn write(self, value: T) {
        // SAFETY: the caller guarantees a valid, aligned slot; it is written
        // without reading or dropping what it held.
        unsafe { self.0.as_ptr().write(value) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::status::{TALLYFY_INTERNAL_ERROR, TALLYFY_INVALID_ARGUMENT};

    #[test]
    fn run_turns_panic_into_internal_error() {
        let status = run("tallyfy_test", || panic!("boom in the core"));
        assert_eq!(status, TALLYFY_INTERNAL_ERROR);
        let message = last_error::message_for_tests();
        assert!(message.contains("tallyfy_test"), "{message}");
        assert!(message.contains("boom in the core"), "{message}");
    }

    #[test]
    fn guard_returns_default_on_panic() {
        let value = guard(7, || panic!("boom"));
        assert_eq!(value, 7);
    }

    #[test]
    fn argument_errors_name_function_and_argument() {
        let status = run("tallyfy_test", || {
            unsafe { arg_str(std::ptr::null(), "path") }?;
            Ok(())
        });
        assert_eq!(status, TALLYFY_INVALID_ARGUMENT);
        let message = last_error::message_for_tests();
        assert_eq!(message, "tallyfy_test: the argument 'path' is NULL");
    }

    #[test]
    fn invalid_utf8_is_rejected_without_echo() {
        let bytes = b"secret\xff\0";
        let result = unsafe { arg_str(bytes.as_ptr().cast(), "token") };
        let message = result.unwrap_err().message;
        assert!(message.contains("not valid UTF-8"), "{message}");
        assert!(message.contains("offset 6"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }

    #[test]
    fn success_clears_last_error() {
        run("tallyfy_test", || Err(ErrorDetail::argument("bad".to_string())));
        assert_eq!(run("tallyfy_test", || Ok(())), TALLYFY_OK);
        assert_eq!(last_error::message_for_tests(), "");
    }
}
