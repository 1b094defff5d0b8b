//! Log records for C programs: a `log::Log` implementation that passes the
//! library's records to a callback set with `tallyfy_set_log_callback`.
//!
//! Rust programs pick their own logger and never meet this module. The C
//! layer installs its logger with `log::set_logger` the first time a C
//! program sets a callback. `log` allows one logger a process, so when a Rust
//! program that also calls these functions has installed its own logger
//! first, setting a callback fails with `TALLYFY_LOGGER_UNAVAILABLE`.
//!
//! Only records of this crate and of ureq, the HTTP client, reach the
//! callback, and ureq's only at DEBUG and above: at TRACE, ureq-proto dumps
//! the bytes of every request, Authorization header included. This crate
//! never logs the token, and ureq leaves sensitive headers out of its DEBUG
//! records.

use std::cell::Cell;
use std::ffi::{c_char, c_void, CString};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};

use ::log::{Level, LevelFilter, Log, Metadata, Record};

use super::boundary::{guard, run};
use super::last_error::ErrorDetail;
use super::status::{tallyfy_status, TALLYFY_LOGGER_UNAVAILABLE};

/// The severity of a log record, or a level to filter records by: one of the
/// `TALLYFY_LOG_*` values, from the most severe to the most verbose.
pub type tallyfy_log_level = u32;

/// No records at all; as a filter, turns logging off.
pub const TALLYFY_LOG_OFF: tallyfy_log_level = 0;

/// A download failed.
pub const TALLYFY_LOG_ERROR: tallyfy_log_level = 1;

/// A download failed, or an attempt failed and will be retried.
pub const TALLYFY_LOG_WARN: tallyfy_log_level = 2;

/// A download finished, with its size, HTTP status and duration. The default
/// filter.
pub const TALLYFY_LOG_INFO: tallyfy_log_level = 3;

/// Each request, redirect and resumed transfer, and the HTTP client's
/// connection events.
pub const TALLYFY_LOG_DEBUG: tallyfy_log_level = 4;

/// Everything the library logs. Release builds made by `make install`
/// compile TRACE records out, so they log at most DEBUG.
pub const TALLYFY_LOG_TRACE: tallyfy_log_level = 5;

/// A log callback: receives the record's level and its message, a
/// NUL-terminated UTF-8 line without a trailing newline that stays valid
/// only during the call.
///
/// The callback runs on the thread that logged the record, which may be any
/// thread that runs a download, and on several threads at once, so it must
/// be thread-safe. It must not unwind (a C++ exception or longjmp) through
/// the library, and must not call `tallyfy_set_log_callback`. Records that
/// the library logs while the callback runs on the same thread, such as
/// those of a download started from inside the callback, are dropped.
pub type tallyfy_log_callback =
    Option<unsafe extern "C" fn(user: *mut c_void, level: tallyfy_log_level, message: *const c_char)>;

/// The callback set by the C program, with its user pointer.
struct Callback {
    function: unsafe extern "C" fn(user: *mut c_void, level: tallyfy_log_level, message: *const c_char),
    user: *mut c_void,
}

// SAFETY: the header requires the callback, and so what it does with `user`,
// to be safe to call from any thread and from several at once.
unsafe impl Send for Callback {}
// SAFETY: as above; the library only passes `user` back to the callback.
unsafe impl Sync for Callback {}

/// The current callback. Readers hold the lock while the callback runs, so
/// that once `tallyfy_set_log_callback` has taken the write lock and
/// returned, the previous callback is neither running nor called again.
static CALLBACK: RwLock<Option<Callback>> = RwLock::new(None);

/// The maximum (most verbose) level passed to the callback, as a `LevelFilter` number.
static LEVEL: AtomicUsize = AtomicUsize::new(LevelFilter::Info as usize);

/// Whether `log::set_logger` installed this module's logger.
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Whether the callback is running on this thread.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

struct CallbackLogger;

static LOGGER: CallbackLogger = CallbackLogger;

impl Log for CallbackLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= level_filter() && is_forwarded(metadata.target(), metadata.level())
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            guard((), || deliver(record));
        }
    }

    fn flush(&self) {}
}

/// Returns whether a record of `target` at `level` may reach the callback:
/// every record of this crate, and ureq's down to DEBUG.
fn is_forwarded(target: &str, level: Level) -> bool {
    if crate_of(target) == "tallyfy_files" {
        return true;
    }
    matches!(crate_of(target), "ureq" | "ureq_proto") && level <= Level::Debug
}

/// Returns the crate part of a record's target, such as "ureq" for "ureq::run".
fn crate_of(target: &str) -> &str {
    target.split("::").next().unwrap_or(target)
}

/// Formats a record and passes it to the callback, unless this thread is
/// already inside the callback.
fn deliver(record: &Record<'_>) {
    let reentered = IN_CALLBACK.try_with(Cell::get).unwrap_or(true);
    if reentered {
        return;
    }

    let callback = CALLBACK.read().unwrap_or_else(PoisonError::into_inner);
    let Some(callback) = callback.as_ref() else {
        return;
    };

    let source = crate_of(record.target());
    let text = if source == "tallyfy_files" {
        record.args().to_string()
    } else {
        format!("{source}: {}", record.args())
    };
    let message = c_string(text);

    IN_CALLBACK.with(|flag| flag.set(true));
    // SAFETY: the C program registered this function and user pointer, and
    // the header requires the callback to be callable from any thread. The
    // message lives until the call returns.
    unsafe { (callback.function)(callback.user, level_number(record.level()), message.as_ptr()) };
    IN_CALLBACK.with(|flag| flag.set(false));
}

/// Copies text into a C string, dropping NUL characters, which a message can
/// contain only when it quotes a server.
fn c_string(text: String) -> CString {
    CString::new(text).unwrap_or_else(|e| {
        let bytes: Vec<u8> = e.into_vec().into_iter().filter(|&b| b != 0).collect();
        CString::new(bytes).expect("NUL bytes were removed")
    })
}

fn level_number(level: Level) -> tallyfy_log_level {
    match level {
        Level::Error => TALLYFY_LOG_ERROR,
        Level::Warn => TALLYFY_LOG_WARN,
        Level::Info => TALLYFY_LOG_INFO,
        Level::Debug => TALLYFY_LOG_DEBUG,
        Level::Trace => TALLYFY_LOG_TRACE,
    }
}

fn level_filter_of(level: tallyfy_log_level) -> Option<LevelFilter> {
    match level {
        TALLYFY_LOG_OFF => Some(LevelFilter::Off),
        TALLYFY_LOG_ERROR => Some(LevelFilter::Error),
        TALLYFY_LOG_WARN => Some(LevelFilter::Warn),
        TALLYFY_LOG_INFO => Some(LevelFilter::Info),
        TALLYFY_LOG_DEBUG => Some(LevelFilter::Debug),
        TALLYFY_LOG_TRACE => Some(LevelFilter::Trace),
        _ => None,
    }
}

fn level_filter() -> LevelFilter {
    match LEVEL.load(Ordering::Relaxed) {
        0 => LevelFilter::Off,
        1 => LevelFilter::Error,
        2 => LevelFilter::Warn,
        3 => LevelFilter::Info,
        4 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    }
}

/// Installs this module's logger, unless it is installed already.
///
/// The caller holds the write lock of `CALLBACK`, so two threads never race
/// here.
fn install_logger() -> Result<(), ErrorDetail> {
    if INSTALLED.load(Ordering::Acquire) {
        return Ok(());
    }

    if ::log::set_logger(&LOGGER).is_err() {
        // Built like an argument error, so that the message names the function.
        let mut detail = ErrorDetail::argument(
            "another logger is already installed in this process (the log crate allows one), so \
             log records cannot be passed to a callback; read them from that logger instead"
                .to_string(),
        );
        detail.status = TALLYFY_LOGGER_UNAVAILABLE;
        return Err(detail);
    }
    INSTALLED.store(true, Ordering::Release);
    Ok(())
}

fn reentry_error(function: &str) -> ErrorDetail {
    ErrorDetail::argument(format!(
        "{function} was called from inside the log callback, where it would deadlock"
    ))
}

/// Sets the function that receives the library's log records, with the
/// `user` pointer passed to it, or removes it when `callback` is NULL.
///
/// Records at the level set with `tallyfy_set_log_level` (INFO by default)
/// and more severe ones reach the callback. They cover each download's
/// start, finish (bytes, HTTP status, duration), retries and errors, each
/// with the file ID, and the HTTP client's connection events at DEBUG. No
/// record contains the access token or the Authorization header.
///
/// The setting is global to the process. When this function returns, the
/// previous callback is no longer running on any thread and is not called
/// again, so its `user` data may be freed. The library never reads or frees
/// `user`.
///
/// Errors: `TALLYFY_LOGGER_UNAVAILABLE` when a Rust program in the same
/// process installed its own logger with the `log` crate first;
/// `TALLYFY_INVALID_ARGUMENT` when called from inside the log callback.
/// Removing the callback always succeeds otherwise.
///
/// Thread-safety: may be called from any thread.
#[no_mangle]
pub extern "C" fn tallyfy_set_log_callback(
    callback: tallyfy_log_callback,
    user: *mut c_void,
) -> tallyfy_status {
    run("tallyfy_set_log_callback", || {
        if IN_CALLBACK.try_with(Cell::get).unwrap_or(false) {
            return Err(reentry_error("tallyfy_set_log_callback"));
        }

        let mut slot = CALLBACK.write().unwrap_or_else(PoisonError::into_inner);
        match callback {
            Some(function) => {
                install_logger()?;
                *slot = Some(Callback { function, user });
                ::log::set_max_level(level_filter());
            }
            None => {
                *slot = None;
                if INSTALLED.load(Ordering::Acquire) {
                    ::log::set_max_level(LevelFilter::Off);
                }
            }
        }
        Ok(())
    })
}

/// Sets the most verbose level passed to the log callback: one of the
/// `TALLYFY_LOG_*` values, `TALLYFY_LOG_OFF` to pass nothing. The default
/// is `TALLYFY_LOG_INFO`.
///
/// The level may be set before or after the callback, and stays when the
/// callback changes. Other values give `TALLYFY_INVALID_ARGUMENT`.
///
/// Thread-safety: may be called from any thread, the log callback included.
#[no_mangle]
pub extern "C" fn tallyfy_set_log_level(level: tallyfy_log_level) -> tallyfy_status {
    run("tallyfy_set_log_level", || {
        let filter = level_filter_of(level).ok_or_else(|| {
            ErrorDetail::argument(format!(
                "level {level} is not a TALLYFY_LOG_* value (0 to {TALLYFY_LOG_TRACE})"
            ))
        })?;
        LEVEL.store(filter as usize, Ordering::Relaxed);

        // Only this module's logger follows the level, and only while a
        // callback is set: another logger keeps the maximum it chose. Inside
        // the callback a callback is set, and this thread already holds the
        // read lock, which a second read could wait for behind a writer.
        if INSTALLED.load(Ordering::Acquire) {
            let callback_set = IN_CALLBACK.try_with(Cell::get).unwrap_or(false)
                || CALLBACK.read().unwrap_or_else(PoisonError::into_inner).is_some();
            if callback_set {
                ::log::set_max_level(filter);
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_records_pass_at_every_level() {
        for level in [Level::Error, Level::Warn, Level::Info, Level::Debug, Level::Trace] {
            assert!(is_forwarded("tallyfy_files::transfer", level), "{level}");
            assert!(is_forwarded("tallyfy_files", level), "{level}");
        }
    }

    #[test]
    fn ureq_trace_records_are_dropped() {
        assert!(is_forwarded("ureq::run", Level::Debug));
        assert!(is_forwarded("ureq_proto::client", Level::Warn));
        assert!(!is_forwarded("ureq_proto::util", Level::Trace), "request dumps");
        assert!(!is_forwarded("ureq::unversioned::transport", Level::Trace));
    }

    #[test]
    fn other_crates_are_dropped() {
        assert!(!is_forwarded("rustls::client", Level::Error));
        assert!(!is_forwarded("tallyfy_files_extra", Level::Error));
        assert!(!is_forwarded("ureqx", Level::Error));
    }

    #[test]
    fn levels_round_trip() {
        for level in [Level::Error, Level::Warn, Level::Info, Level::Debug, Level::Trace] {
            let number = level_number(level);
            assert_eq!(level_filter_of(number), Some(level.to_level_filter()), "{level}");
        }
        assert_eq!(level_filter_of(TALLYFY_LOG_OFF), Some(LevelFilter::Off));
        assert_eq!(level_filter_of(6), None);
    }

    #[test]
    fn invalid_level_is_rejected() {
        let status = tallyfy_set_log_level(6);
        assert_eq!(status, super::super::status::TALLYFY_INVALID_ARGUMENT);
        let message = super::super::last_error::message_for_tests();
        assert!(message.contains("level 6"), "{message}");
    }

    /// Installs a logger of its own first, as a Rust program would. No other
    /// test in this binary installs a logger or sets a callback.
    #[test]
    fn foreign_logger_gives_clear_status() {
        struct Foreign;
        impl Log for Foreign {
            fn enabled(&self, _: &Metadata<'_>) -> bool {
                false
            }
            fn log(&self, _: &Record<'_>) {}
            fn flush(&self) {}
        }
        static FOREIGN: Foreign = Foreign;
        let _ = ::log::set_logger(&FOREIGN);

        unsafe extern "C" fn ignore(_: *mut c_void, _: tallyfy_log_level, _: *const c_char) {}
        let status = tallyfy_set_log_callback(Some(ignore), std::ptr::null_mut());
        assert_eq!(status, TALLYFY_LOGGER_UNAVAILABLE);
        let message = super::super::last_error::message_for_tests();
        assert!(message.starts_with("tallyfy_set_log_callback: "), "{message}");
        assert!(message.contains("another logger"), "{message}");

        let status = tallyfy_set_log_callback(None, std::ptr::null_mut());
        assert_eq!(
            status,
            super::super::status::TALLYFY_OK,
            "removing needs no logger"
        );
    }
}
