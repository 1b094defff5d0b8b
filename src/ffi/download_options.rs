//! Per-download options: the endpoint, an organization override, a maximum
//! size and a progress callback.

use std::ffi::{c_char, c_int, c_void};
use std::ops::ControlFlow;

use crate::request::{Download, Mode};

use super::boundary::{arg_mut, arg_str, guard, run, Out};
use super::last_error::ErrorDetail;
use super::status::tallyfy_status;

/// The endpoint that serves the file: one of the `TALLYFY_MODE_*` values.
pub type tallyfy_mode = u32;

/// `{base}/organizations/{org}/file/{id}/dl`: the raw bytes as
/// application/octet-stream, with the original name in Content-Disposition.
/// Works for every file. The default.
pub const TALLYFY_MODE_ATTACHMENT: tallyfy_mode = 0;

/// `{base}/organizations/{org}/file/{id}`: the same bytes with the file's
/// real MIME type. The API returns 404 here for files on tasks of running
/// processes.
pub const TALLYFY_MODE_INLINE: tallyfy_mode = 1;

/// The `total` that the progress callback receives when the server did not
/// declare the file's size. An empty file is reported with a total of 0.
///
/// No declared size can equal it: a server that declares a Content-Length
/// of `UINT64_MAX` gets `TALLYFY_TOO_LARGE` before the first callback.
pub const TALLYFY_SIZE_UNKNOWN: u64 = u64::MAX;

/// The largest size the library accepts, so that a declared size never
/// equals `TALLYFY_SIZE_UNKNOWN`.
const MAX_ACCEPTED_SIZE: u64 = u64::MAX - 1;

/// A progress callback, called on the downloading thread as bytes arrive:
/// once before the first body byte (with `received` 0) and after every block.
///
/// `received` counts the body bytes delivered so far; `total` is the size the
/// server declared, or `TALLYFY_SIZE_UNKNOWN`. When a retry must restart the
/// body, `received` starts again from 0. Return 0 to go on, or any other
/// value to stop the download with `TALLYFY_ABORTED_BY_CALLBACK`. A download
/// to a path or a folder then leaves no file behind.
///
/// The callback must not call into the library with the same download's
/// objects, and must not unwind (a C++ exception or longjmp) through the
/// library.
pub type tallyfy_progress_callback =
    Option<unsafe extern "C" fn(user: *mut c_void, received: u64, total: u64) -> c_int>;

/// Options for one download. Every option has a default, so NULL may be
/// passed wherever a download takes options.
///
/// Create with `tallyfy_download_options_new`, free with
/// `tallyfy_download_options_free`. A download only reads its options, so one
/// object may serve many downloads in turn.
///
/// Thread-safety: may be moved between threads, but not used by two threads
/// at once, which also keeps the progress callback's `user` pointer on one
/// thread at a time.
pub struct tallyfy_download_options {
    mode: Mode,
    org_id: Option<String>,
    max_size: Option<u64>,
    progress: tallyfy_progress_callback,
    progress_user: *mut c_void,
}

impl tallyfy_download_options {
    /// Applies these options to a core download.
    ///
    /// The maximum size is always set, at most to `UINT64_MAX - 1`, so that
    /// a progress total never equals `TALLYFY_SIZE_UNKNOWN`.
    pub(crate) fn apply<'a>(&self, download: Download<'a>) -> Download<'a> {
        let mut download = download.mode(self.mode);
        if let Some(org_id) = &self.org_id {
            download = download.org_id(org_id.as_str());
        }

        let limit = self
            .max_size
            .map_or(MAX_ACCEPTED_SIZE, |limit| limit.min(MAX_ACCEPTED_SIZE));
        download = download.max_size(limit);

        if let Some(callback) = self.progress {
            let user = self.progress_user;
            download = download.progress(move |received, total| {
                // SAFETY: the caller registered this function with this user
                // pointer, and the header requires both to stay valid while
                // the options are used.
                let verdict = unsafe { callback(user, received, total.unwrap_or(TALLYFY_SIZE_UNKNOWN)) };
                if verdict == 0 {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            });
        }
        download
    }
}

/// The options used when a download is passed NULL.
pub(crate) const DEFAULT_DOWNLOAD_OPTIONS: tallyfy_download_options = tallyfy_download_options {
    mode: Mode::Attachment,
    org_id: None,
    max_size: None,
    progress: None,
    progress_user: std::ptr::null_mut(),
};

/// Runs a setter: checks the options pointer, then applies `change`.
fn set(
    function: &'static str,
    options: *mut tallyfy_download_options,
    change: impl FnOnce(&mut tallyfy_download_options) -> Result<(), ErrorDetail>,
) -> tallyfy_status {
    run(function, || {
        // SAFETY: a non-NULL pointer comes from tallyfy_download_options_new
        // and, by the thread-safety contract, is not in use elsewhere.
        let options = unsafe { arg_mut(options, "options") }?;
        change(options)
    })
}

/// Creates download options with the defaults: attachment mode, the client's
/// organization, no size limit and no progress callback.
///
/// On success `*out_options` receives a new object that the caller frees
/// with `tallyfy_download_options_free`.
#[no_mangle]
pub extern "C" fn tallyfy_download_options_new(
    out_options: *mut *mut tallyfy_download_options,
) -> tallyfy_status {
    run("tallyfy_download_options_new", || {
        let out = Out::required(out_options, "out_options")?;
        let options = Box::new(DEFAULT_DOWNLOAD_OPTIONS);
        // SAFETY: Out checked the pointer; the header requires it to be writable.
        unsafe { out.write(Box::into_raw(options)) };
        Ok(())
    })
}

/// Frees download options. NULL is a no-op.
///
/// No download using the options may be running.
#[no_mangle]
pub extern "C" fn tallyfy_download_options_free(options: *mut tallyfy_download_options) {
    guard((), || {
        if !options.is_null() {
            // SAFETY: a non-NULL pointer comes from tallyfy_download_options_new
            // and is freed once, as the header requires.
            drop(unsafe { Box::from_raw(options) });
        }
    })
}

/// Chooses the endpoint: `TALLYFY_MODE_ATTACHMENT` (the default) or
/// `TALLYFY_MODE_INLINE`. Other values give `TALLYFY_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn tallyfy_download_options_set_mode(
    options: *mut tallyfy_download_options,
    mode: tallyfy_mode,
) -> tallyfy_status {
    set("tallyfy_download_options_set_mode", options, |options| {
        options.mode = match mode {
            TALLYFY_MODE_ATTACHMENT => Mode::Attachment,
            TALLYFY_MODE_INLINE => Mode::Inline,
            other => {
                return Err(ErrorDetail::argument(format!(
                    "mode {other} is neither TALLYFY_MODE_ATTACHMENT (0) nor TALLYFY_MODE_INLINE (1)"
                )));
            }
        };
        Ok(())
    })
}

/// Downloads from this organization instead of the client's.
///
/// The ID is checked when a download starts.
#[no_mangle]
pub extern "C" fn tallyfy_download_options_set_org_id(
    options: *mut tallyfy_download_options,
    org_id: *const c_char,
) -> tallyfy_status {
    set("tallyfy_download_options_set_org_id", options, |options| {
        // SAFETY: the header requires a NUL-terminated string.
        let org_id = unsafe { arg_str(org_id, "org_id") }?;
        options.org_id = Some(org_id.to_string());
        Ok(())
    })
}

/// Fails the download with `TALLYFY_TOO_LARGE` when the file is larger than
/// `max_size` bytes. `UINT64_MAX`, the default, sets no limit.
///
/// A declared Content-Length above the limit fails before any byte is
/// written; a body without one fails as soon as it passes the limit.
#[no_mangle]
pub extern "C" fn tallyfy_download_options_set_max_size(
    options: *mut tallyfy_download_options,
    max_size: u64,
) -> tallyfy_status {
    set("tallyfy_download_options_set_max_size", options, |options| {
        options.max_size = (max_size != u64::MAX).then_some(max_size);
        Ok(())
    })
}

/// Sets the progress callback and the `user` pointer passed to it, or
/// removes the callback when `callback` is NULL.
///
/// The library never reads or frees `user`; it must stay valid while a
/// download uses these options.
#[no_mangle]
pub extern "C" fn tallyfy_download_options_set_progress(
    options: *mut tallyfy_download_options,
    callback: tallyfy_progress_callback,
    user: *mut c_void,
) -> tallyfy_status {
    set("tallyfy_download_options_set_progress", options, |options| {
        options.progress = callback;
        options.progress_user = if callback.is_some() {
            user
        } else {
            std::ptr::null_mut()
        };
        Ok(())
    })
}
