//! The download functions, one a destination: a path, a folder, a caller's
//! buffer, library-allocated memory, a write callback and a file descriptor.
//!
//! Each takes the client, the file ID and nullable options first, then what
//! the destination needs, then a nullable `out_info`. Every pointer is
//! checked before any request is sent.

use std::ffi::{c_char, c_int, c_void};
use std::io::{self, Write};

use crate::error::ErrorKind;
use crate::request::{Download, IfExists, NameConflict};

use super::boundary::{arg_ref, arg_str, null_argument, optional_ref, run, Out};
use super::client::tallyfy_client;
use super::data;
use super::download_options::{tallyfy_download_options, DEFAULT_DOWNLOAD_OPTIONS};
use super::info::{self, tallyfy_file_info};
use super::last_error::ErrorDetail;
use super::status::tallyfy_status;

/// The policy of `tallyfy_download_to_path` for a destination that exists:
/// one of the `TALLYFY_IF_EXISTS_*` values.
pub type tallyfy_if_exists = u32;

/// Fail with `TALLYFY_DESTINATION_EXISTS` and leave the existing file alone.
pub const TALLYFY_IF_EXISTS_FAIL: tallyfy_if_exists = 0;

/// Replace the existing file atomically once the whole body has arrived.
pub const TALLYFY_IF_EXISTS_REPLACE: tallyfy_if_exists = 1;

/// The policy of `tallyfy_download_to_folder` for a server file name that is
/// taken: one of the `TALLYFY_NAME_CONFLICT_*` values.
pub type tallyfy_name_conflict = u32;

/// Fail with `TALLYFY_DESTINATION_EXISTS`.
pub const TALLYFY_NAME_CONFLICT_FAIL: tallyfy_name_conflict = 0;

/// Save as "name (1).ext", "name (2).ext" and so on, never replacing a file.
pub const TALLYFY_NAME_CONFLICT_UNIQUE: tallyfy_name_conflict = 1;

/// A write callback, called on the downloading thread with each block of the
/// body in order, never with `len` 0.
///
/// Return `len` when the whole block was taken. Any other value stops the
/// download with `TALLYFY_WRITE_ERROR`. `data` is valid only during the call.
/// The callback must not unwind (a C++ exception or longjmp) through the library.
pub type tallyfy_write_callback =
    Option<unsafe extern "C" fn(user: *mut c_void, data: *const u8, len: usize) -> usize>;

/// Checks the arguments every download takes and sets up the core download.
///
/// # Safety
///
/// Each pointer must be NULL or valid as the header describes.
unsafe fn prepare<'a>(
    client: *const tallyfy_client,
    file_id: *const c_char,
    options: *const tallyfy_download_options,
) -> Result<Download<'a>, ErrorDetail> {
    // SAFETY: the caller passes pointers that are NULL or valid for the call.
    let client = unsafe { arg_ref(client, "client") }?;
    let file_id = unsafe { arg_str(file_id, "file_id") }?;
    let options = unsafe { optional_ref(options) };

    // The options are only read here: the download copies what it needs.
    let defaults = DEFAULT_DOWNLOAD_OPTIONS;
    let options = options.unwrap_or(&defaults);
    Ok(options.apply(client.client.download(file_id)))
}

/// Hands a file info to the caller when `out_info` is not NULL.
fn deliver_info(out_info: Option<Out<*mut tallyfy_file_info>>, info: crate::FileInfo) {
    if let Some(out) = out_info {
        // SAFETY: Out checked the pointer; the header requires it to be writable.
        unsafe { out.write(info::into_raw(info)) };
    }
}

/// Downloads a file and saves it at `path`, atomically.
///
/// The body streams into a temporary file in the same folder, which is
/// synced and renamed over `path` only after the whole body arrived. On any
/// failure an existing file at `path` is left unchanged and the temporary
/// file is removed.
///
/// `options` may be NULL for the defaults. `if_exists` is
/// `TALLYFY_IF_EXISTS_FAIL` or `TALLYFY_IF_EXISTS_REPLACE`. When `out_info`
/// is not NULL it receives a file info to free with `tallyfy_file_info_free`.
///
/// Errors: `TALLYFY_DESTINATION_EXISTS` (checked before the request and again
/// at the rename), `TALLYFY_INVALID_ARGUMENT` when `path` is a folder, or a
/// device, FIFO or socket that replacing would destroy (use
/// `tallyfy_download_to_fd` for those), `TALLYFY_IO_ERROR` when the folder is
/// missing or not writable, and any network or HTTP error.
#[no_mangle]
pub extern "C" fn tallyfy_download_to_path(
    client: *const tallyfy_client,
    file_id: *const c_char,
    options: *const tallyfy_download_options,
    path: *const c_char,
    if_exists: tallyfy_if_exists,
    out_info: *mut *mut tallyfy_file_info,
) -> tallyfy_status {
    run("tallyfy_download_to_path", || {
        // SAFETY: the header requires valid pointers or NULL.
        let download = unsafe { prepare(client, file_id, options) }?;
        let path = unsafe { arg_str(path, "path") }?;
        let if_exists = match if_exists {
            TALLYFY_IF_EXISTS_FAIL => IfExists::Fail,
            TALLYFY_IF_EXISTS_REPLACE => IfExists::Replace,
            other => {
                return Err(ErrorDetail::argument(format!(
                    "if_exists {other} is neither TALLYFY_IF_EXISTS_FAIL (0) nor TALLYFY_IF_EXISTS_REPLACE (1)"
                )));
            }
        };
        let out_info = Out::optional(out_info);

        let info = download.to_path(path, if_exists)?;
        deliver_info(out_info, info);
        Ok(())
    })
}

/// Downloads a file into `folder` under the name the server sent.
///
/// The name comes from Content-Disposition, made safe as described for
/// `tallyfy_file_info.file_name`. The file appears only once complete, and an
/// existing file is never replaced: `on_conflict` is
/// `TALLYFY_NAME_CONFLICT_FAIL` or `TALLYFY_NAME_CONFLICT_UNIQUE`.
///
/// `options` may be NULL for the defaults. When `out_info` is not NULL it
/// receives a file info whose `path` is where the file was saved; free it
/// with `tallyfy_file_info_free`.
///
/// Errors: `TALLYFY_DESTINATION_EXISTS`, `TALLYFY_IO_ERROR` when the folder is
/// missing or not writable, and any network or HTTP error.
#[no_mangle]
pub extern "C" fn tallyfy_download_to_folder(
    client: *const tallyfy_client,
    file_id: *const c_char,
    options: *const tallyfy_download_options,
    folder: *const c_char,
    on_conflict: tallyfy_name_conflict,
    out_info: *mut *mut tallyfy_file_info,
) -> tallyfy_status {
    run("tallyfy_download_to_folder", || {
        // SAFETY: the header requires valid pointers or NULL.
        let download = unsafe { prepare(client, file_id, options) }?;
        let folder = unsafe { arg_str(folder, "folder") }?;
        let on_conflict = match on_conflict {
            TALLYFY_NAME_CONFLICT_FAIL => NameConflict::Fail,
            TALLYFY_NAME_CONFLICT_UNIQUE => NameConflict::Unique,
            other => {
                return Err(ErrorDetail::argument(format!(
                    "on_conflict {other} is neither TALLYFY_NAME_CONFLICT_FAIL (0) nor TALLYFY_NAME_CONFLICT_UNIQUE (1)"
                )));
            }
        };
        let out_info = Out::optional(out_info);

        let info = download.to_folder(folder, on_conflict)?;
        deliver_info(out_info, info);
        Ok(())
    })
}

/// Downloads a file into the caller's buffer `buf` of `capacity` bytes.
///
/// On success `*out_len` receives the file's size. Nothing is written past
/// `buf + capacity`. `buf` may be NULL only when `capacity` is 0, which
/// requests the size: a non-empty file then gives `TALLYFY_BUFFER_TOO_SMALL`.
/// A `capacity` above `PTRDIFF_MAX` gives `TALLYFY_INVALID_ARGUMENT`.
///
/// On `TALLYFY_BUFFER_TOO_SMALL`, `*out_len` receives the size needed when
/// the server declared it (Content-Length), or 0 when it did not, in which
/// case grow the buffer (by doubling it, say) and try again. The buffer's
/// contents are then unspecified.
///
/// `options` may be NULL for the defaults. When `out_info` is not NULL it
/// receives a file info to free with `tallyfy_file_info_free`.
#[no_mangle]
pub extern "C" fn tallyfy_download_to_buffer(
    client: *const tallyfy_client,
    file_id: *const c_char,
    options: *const tallyfy_download_options,
    buf: *mut u8,
    capacity: usize,
    out_len: *mut usize,
    out_info: *mut *mut tallyfy_file_info,
) -> tallyfy_status {
    run("tallyfy_download_to_buffer", || {
        // SAFETY: the header requires valid pointers or NULL.
        let download = unsafe { prepare(client, file_id, options) }?;
        if buf.is_null() && capacity > 0 {
            return Err(ErrorDetail::argument(format!(
                "the argument 'buf' is NULL but capacity is {capacity}; pass a buffer, or capacity 0 to ask for the size"
            )));
        }
        // No object is larger than PTRDIFF_MAX bytes, and a Rust slice must
        // not be, so a capacity such as (size_t)-1 is a caller's bug.
        if capacity > isize::MAX as usize {
            return Err(ErrorDetail::argument(format!(
                "capacity {capacity} is larger than any buffer can be (PTRDIFF_MAX is {}); pass the buffer's real size",
                isize::MAX
            )));
        }
        let out_len = Out::required(out_len, "out_len")?;
        let out_info = Out::optional(out_info);

        let buffer: &mut [u8] = if capacity == 0 {
            &mut []
        } else {
            // SAFETY: buf is not NULL, and the header requires it to be
            // writable for capacity bytes and unused by others during the call.
            unsafe { std::slice::from_raw_parts_mut(buf, capacity) }
        };

        match download.to_slice(buffer) {
            Ok(info) => {
                // SAFETY: Out checked the pointer; the header requires it to be writable.
                unsafe { out_len.write(usize::try_from(info.size).unwrap_or(usize::MAX)) };
                deliver_info(out_info, info);
                Ok(())
            }
            Err(error) => {
                if error.kind() == ErrorKind::BufferTooSmall {
                    let needed = error.needed_size().unwrap_or(0);
                    // SAFETY: as above; the needed size is the one output
                    // written on failure.
                    unsafe { out_len.write(usize::try_from(needed).unwrap_or(usize::MAX)) };
                }
                Err(error.into())
            }
        }
    })
}

/// Downloads a file into memory that the library allocates.
///
/// On success `*out_data` receives the bytes and `*out_len` their number;
/// free the bytes with `tallyfy_data_free`. An empty file gives a non-NULL
/// `*out_data` with `*out_len` 0.
///
/// `max_size` caps the memory used: a larger file gives `TALLYFY_TOO_LARGE`
/// (the lower of `max_size` and the options' maximum size applies).
/// `UINT64_MAX` sets no cap of its own, which a hostile server could use to
/// exhaust memory.
///
/// `options` may be NULL for the defaults. When `out_info` is not NULL it
/// receives a file info to free with `tallyfy_file_info_free`.
#[no_mangle]
pub extern "C" fn tallyfy_download_to_memory(
    client: *const tallyfy_client,
    file_id: *const c_char,
    options: *const tallyfy_download_options,
    max_size: u64,
    out_data: *mut *mut u8,
    out_len: *mut usize,
    out_info: *mut *mut tallyfy_file_info,
) -> tallyfy_status {
    run("tallyfy_download_to_memory", || {
        // SAFETY: the header requires valid pointers or NULL.
        let download = unsafe { prepare(client, file_id, options) }?;
        let out_data = Out::required(out_data, "out_data")?;
        let out_len = Out::required(out_len, "out_len")?;
        let out_info = Out::optional(out_info);

        let (bytes, info) = download.to_vec(max_size)?;

        let (pointer, length) = data::into_raw(bytes);
        // SAFETY: Out checked the pointers; the header requires them to be writable.
        unsafe {
            out_data.write(pointer);
            out_len.write(length);
        }
        deliver_info(out_info, info);
        Ok(())
    })
}

/// Passes the body to a C write callback.
struct CallbackWriter {
    callback: unsafe extern "C" fn(user: *mut c_void, data: *const u8, len: usize) -> usize,
    user: *mut c_void,
}

impl Write for CallbackWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }

        // SAFETY: the caller registered this function and user pointer for
        // the duration of the download; data is valid for data.len() bytes.
        let taken = unsafe { (self.callback)(self.user, data.as_ptr(), data.len()) };
        if taken != data.len() {
            return Err(io::Error::other(format!(
                "the write callback returned {taken} for a block of {} bytes",
                data.len()
            )));
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Downloads a file into a write callback, which receives the body in order.
///
/// `write_callback` must not be NULL; `user` is passed to it untouched. A
/// return other than the block's length stops the download with
/// `TALLYFY_WRITE_ERROR`. Blocks already passed on stay passed on when the
/// download fails later, and a retry after the first block is possible only
/// by resuming where the body stopped, when the server allows it.
///
/// `options` may be NULL for the defaults. When `out_info` is not NULL it
/// receives a file info to free with `tallyfy_file_info_free`.
#[no_mangle]
pub extern "C" fn tallyfy_download_to_callback(
    client: *const tallyfy_client,
    file_id: *const c_char,
    options: *const tallyfy_download_options,
    write_callback: tallyfy_write_callback,
    user: *mut c_void,
    out_info: *mut *mut tallyfy_file_info,
) -> tallyfy_status {
    run("tallyfy_download_to_callback", || {
        // SAFETY: the header requires valid pointers or NULL.
        let download = unsafe { prepare(client, file_id, options) }?;
        let callback = write_callback.ok_or_else(|| null_argument("write_callback"))?;
        let out_info = Out::optional(out_info);

        let mut writer = CallbackWriter { callback, user };
        let info = download.to_writer(&mut writer)?;
        deliver_info(out_info, info);
        Ok(())
    })
}

/// Writes to a file descriptor that the caller owns, without closing it.
#[cfg(unix)]
struct FdWriter {
    fd: c_int,
}

#[cfg(unix)]
impl Write for FdWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        write_without_sigpipe(self.fd, data)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes once to `fd` with SIGPIPE blocked on the calling thread.
///
/// A pipe or socket whose reader is gone then fails with EPIPE, which
/// becomes `TALLYFY_WRITE_ERROR`, instead of raising SIGPIPE, whose default
/// action kills a C program. The SIGPIPE that the write raised is taken off
/// the thread before the old mask returns; one that was pending before
/// stays pending.
#[cfg(unix)]
fn write_without_sigpipe(fd: c_int, data: &[u8]) -> io::Result<usize> {
    // SAFETY: the signal sets are plain values on this stack, initialised by
    // sigemptyset or filled by the calls that take them; pthread_sigmask
    // changes only this thread's mask and the old one is restored before
    // returning. write(2) reads at most data.len() bytes from a valid slice,
    // and a bad descriptor only makes it fail with EBADF.
    unsafe {
        let mut sigpipe_only: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut sigpipe_only);
        libc::sigaddset(&mut sigpipe_only, libc::SIGPIPE);
        let mut previous_mask: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &sigpipe_only, &mut previous_mask);
        let was_pending = sigpipe_pending();

        let written = libc::write(fd, data.as_ptr().cast(), data.len());
        let result = if written < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(written as usize)
        };

        let raised_sigpipe = matches!(&result, Err(e) if e.raw_os_error() == Some(libc::EPIPE));
        if raised_sigpipe && !was_pending && sigpipe_pending() {
            let mut signal = 0;
            libc::sigwait(&sigpipe_only, &mut signal);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &previous_mask, std::ptr::null_mut());
        result
    }
}

/// Returns whether a SIGPIPE is pending for the calling thread.
#[cfg(unix)]
fn sigpipe_pending() -> bool {
    // SAFETY: sigpending fills a signal set on this stack.
    unsafe {
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending) == 0 && libc::sigismember(&pending, libc::SIGPIPE) == 1
    }
}

/// Checks that `fd` is an open file descriptor, before any request is sent.
#[cfg(unix)]
fn check_fd(fd: c_int) -> Result<(), ErrorDetail> {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        let mut detail = ErrorDetail::argument(format!("fd {fd} is not an open file descriptor"));
        detail.os_errno = libc::EBADF;
        return Err(detail);
    }
    Ok(())
}

/// Downloads a file and writes it to the open file descriptor `fd`, at its
/// current offset, without closing, syncing or truncating it.
///
/// Bytes already written stay written when the download fails later, so
/// truncate or remove the file on failure if it matters. A write failure
/// gives `TALLYFY_WRITE_ERROR` with the errno in `tallyfy_last_error_os_errno`;
/// a descriptor that is not open gives `TALLYFY_INVALID_ARGUMENT` before any
/// request is sent. A pipe or socket whose reader has gone gives
/// `TALLYFY_WRITE_ERROR` with `EPIPE`: SIGPIPE is blocked on the calling
/// thread during each write, so it neither kills the program nor reaches
/// its handler.
///
/// POSIX systems only: elsewhere it returns `TALLYFY_INVALID_ARGUMENT`.
///
/// `options` may be NULL for the defaults. When `out_info` is not NULL it
/// receives a file info to free with `tallyfy_file_info_free`.
#[no_mangle]
pub extern "C" fn tallyfy_download_to_fd(
    client: *const tallyfy_client,
    file_id: *const c_char,
    options: *const tallyfy_download_options,
    fd: c_int,
    out_info: *mut *mut tallyfy_file_info,
) -> tallyfy_status {
    run("tallyfy_download_to_fd", || {
        // SAFETY: the header requires valid pointers or NULL.
        let download = unsafe { prepare(client, file_id, options) }?;
        let out_info = Out::optional(out_info);

        #[cfg(unix)]
        {
            check_fd(fd)?;
            let mut writer = FdWriter { fd };
            let info = download.to_writer(&mut writer)?;
            deliver_info(out_info, info);
            Ok(())
        }

        #[cfg(not(unix))]
        {
            let _ = (download, out_info, fd);
            Err(ErrorDetail::argument(
                "downloading to a file descriptor is supported on POSIX systems only".to_string(),
            ))
        }
    })
}
