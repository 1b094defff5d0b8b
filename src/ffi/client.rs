//! Client options, set one at a time, and the client built from them.
//!
//! Options are an opaque object with setters rather than a struct, so that
//! new options never change a layout that compiled programs depend on.

use std::ffi::c_char;
use std::time::Duration;

use crate::client::{Client, ClientBuilder};
use crate::retry::RetryPolicy;

use super::boundary::{arg_mut, arg_ref, arg_str, guard, run, Out};
use super::last_error::ErrorDetail;
use super::status::tallyfy_status;

/// Settings for a client: credentials, endpoint, timeouts, TLS, proxy and
/// retries. Every setting has a default except the access token.
///
/// Create with `tallyfy_client_options_new`, change with the
/// `tallyfy_client_options_set_*` functions, pass to `tallyfy_client_new`
/// (which copies what it needs, so the options may be freed or reused right
/// after), and free with `tallyfy_client_options_free`.
///
/// Values are checked by `tallyfy_client_new`, except NULL pointers, invalid
/// UTF-8 and out-of-range numbers, which the setters reject.
///
/// Thread-safety: may be moved between threads, but not used from two
/// threads at once.
pub struct tallyfy_client_options {
    builder: ClientBuilder,
    retry: RetryPolicy,
}

/// A configured connection to the Tallyfy API, with its connection pool.
///
/// Thread-safety: one client may be used by any number of threads at once,
/// which is the cheapest way to download many files, because the threads
/// share connections. Free it only after every download using it returned.
pub struct tallyfy_client {
    pub(crate) client: Client,
}

/// Converts milliseconds to an optional timeout, where 0 means none.
fn timeout_from_ms(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// Runs a setter: checks the options pointer, then applies `change`.
fn set(
    function: &'static str,
    options: *mut tallyfy_client_options,
    change: impl FnOnce(&mut tallyfy_client_options) -> Result<(), ErrorDetail>,
) -> tallyfy_status {
    run(function, || {
        // SAFETY: a non-NULL pointer comes from tallyfy_client_options_new
        // and, by the thread-safety contract, is not in use elsewhere.
        let options = unsafe { arg_mut(options, "options") }?;
        change(options)
    })
}

/// Runs a setter that takes a string, checked for NULL and UTF-8.
fn set_text(
    function: &'static str,
    options: *mut tallyfy_client_options,
    name: &'static str,
    value: *const c_char,
    apply: impl FnOnce(ClientBuilder, &str) -> ClientBuilder,
) -> tallyfy_status {
    set(function, options, |options| {
        // SAFETY: the header requires a NUL-terminated string.
        let value = unsafe { arg_str(value, name) }?;
        options.builder = apply(std::mem::take(&mut options.builder), value);
        Ok(())
    })
}

/// Creates client options with the default settings.
///
/// On success `*out_options` receives a new object that the caller frees
/// with `tallyfy_client_options_free`.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_new(
    out_options: *mut *mut tallyfy_client_options,
) -> tallyfy_status {
    run("tallyfy_client_options_new", || {
        let out = Out::required(out_options, "out_options")?;
        let options = Box::new(tallyfy_client_options {
            builder: ClientBuilder::default(),
            retry: RetryPolicy::default(),
        });
        // SAFETY: Out checked the pointer; the header requires it to be writable.
        unsafe { out.write(Box::into_raw(options)) };
        Ok(())
    })
}

/// Frees client options. NULL is a no-op.
///
/// Clients built from the options are not affected.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_free(options: *mut tallyfy_client_options) {
    guard((), || {
        if !options.is_null() {
            // SAFETY: a non-NULL pointer comes from tallyfy_client_options_new
            // and is freed once, as the header requires.
            drop(unsafe { Box::from_raw(options) });
        }
    })
}

/// Sets the access token, sent as `Authorization: Bearer <token>`. Required.
///
/// The token is sent only to the base URL's origin, never to a redirect
/// target on another host, and never appears in a message.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_set_token(
    options: *mut tallyfy_client_options,
    token: *const c_char,
) -> tallyfy_status {
    set_text(
        "tallyfy_client_options_set_token",
        options,
        "token",
        token,
        |builder, value| builder.token(value),
    )
}

/// Sets the organization ID used by downloads that do not set their own.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_set_org_id(
    options: *mut tallyfy_client_options,
    org_id: *const c_char,
) -> tallyfy_status {
    set_text(
        "tallyfy_client_options_set_org_id",
        options,
        "org_id",
        org_id,
        |builder, value| builder.org_id(value),
    )
}

/// Sets the API base URL, such as `https://go.tallyfy.com/api` (the default).
///
/// It must be an absolute http or https URL without credentials, query or
/// fragment; a trailing '/' is ignored.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_set_base_url(
    options: *mut tallyfy_client_options,
    base_url: *const c_char,
) -> tallyfy_status {
    set_text(
        "tallyfy_client_options_set_base_url",
        options,
        "base_url",
        base_url,
        |builder, value| builder.base_url(value),
    )
}

/// Sets how long resolving, connecting and the TLS handshake may take, in
/// milliseconds. 0 waits as long as the operating system does. Default 30000.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_set_connect_timeout_ms(
    options: *mut tallyfy_client_options,
    timeout_ms: u64,
) -> tallyfy_status {
    set(
        "tallyfy_client_options_set_connect_timeout_ms",
        options,
        |options| {
            options.builder =
                std::mem::take(&mut options.builder).connect_timeout(timeout_from_ms(timeout_ms));
            Ok(())
        },
    )
}

/// Sets how long the server may send nothing, while the headers or the body
/// are awaited, before the download fails with `TALLYFY_TIMEOUT`, in
/// milliseconds. The timer restarts with every read that returns data, so a
/// slow but moving download is never cut off. 0 waits forever. Default 30000.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_set_stall_timeout_ms(
    options: *mut tallyfy_client_options,
    timeout_ms: u64,
) -> tallyfy_status {
    set(
        "tallyfy_client_options_set_stall_timeout_ms",
        options,
        |options| {
            options.builder = std::mem::take(&mut options.builder).stall_timeout(timeout_from_ms(timeout_ms));
            Ok(())
        },
    )
}

/// Sets the longest one download may take, retries and redirects included,
/// in milliseconds. 0, the default, sets no limit.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_set_deadline_ms(
    options: *mut tallyfy_client_options,
    deadline_ms: u64,
) -> tallyfy_status {
    set("tallyfy_client_options_set_deadline_ms", options, |options| {
        options.builder = std::mem::take(&mut options.builder).deadline(timeout_from_ms(deadline_ms));
        Ok(())
    })
}

/// Trusts the CA certificates in this PEM file for HTTPS, instead of the
/// built-in Mozilla roots (as curl's --cacert does).
///
/// When the system trust store is also turned on, the system store wins.
/// The file is read by `tallyfy_client_new`.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_set_ca_file(
    options: *mut tallyfy_client_options,
    path: *const c_char,
) -> tallyfy_status {
    set_text(
        "tallyfy_client_options_set_ca_file",
        options,
        "path",
        path,
        |builder, value| builder.ca_file(value),
    )
}

/// Verifies HTTPS certificates with the operating system's trust store
/// instead of the built-in Mozilla roots when `enabled` is true. Default false.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_set_system_trust_store(
    options: *mut tallyfy_client_options,
    enabled: bool,
) -> tallyfy_status {
    set(
        "tallyfy_client_options_set_system_trust_store",
        options,
        |options| {
            options.builder = std::mem::take(&mut options.builder).system_trust_store(enabled);
            Ok(())
        },
    )
}

/// Chooses whether downloads to a path or a folder are synced to stable
/// storage (fsync of the file, then of its folder) before they count as done.
/// Default true.
///
/// With false, the rename still makes the file appear only when complete,
/// but a power loss soon after a download may leave it empty or missing. It
/// saves a disk flush per file.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_set_sync_files(
    options: *mut tallyfy_client_options,
    enabled: bool,
) -> tallyfy_status {
    set("tallyfy_client_options_set_sync_files", options, |options| {
        options.builder = std::mem::take(&mut options.builder).sync_files(enabled);
        Ok(())
    })
}

/// Sends every request through this proxy, such as "http://proxy:3128" or
/// "socks5://127.0.0.1:1080".
///
/// Without this setting, the HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY
/// environment variables apply.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_set_proxy(
    options: *mut tallyfy_client_options,
    proxy: *const c_char,
) -> tallyfy_status {
    set_text(
        "tallyfy_client_options_set_proxy",
        options,
        "proxy",
        proxy,
        |builder, value| builder.proxy(value),
    )
}

/// Sets the User-Agent header. Default `tallyfy-files/<version>`.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_set_user_agent(
    options: *mut tallyfy_client_options,
    user_agent: *const c_char,
) -> tallyfy_status {
    set_text(
        "tallyfy_client_options_set_user_agent",
        options,
        "user_agent",
        user_agent,
        |builder, value| builder.user_agent(value),
    )
}

/// Sets how many redirects one request follows. Default 10; 0 refuses any
/// redirect with `TALLYFY_REDIRECT_REFUSED`.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_set_max_redirects(
    options: *mut tallyfy_client_options,
    max_redirects: u32,
) -> tallyfy_status {
    set("tallyfy_client_options_set_max_redirects", options, |options| {
        options.builder = std::mem::take(&mut options.builder).max_redirects(max_redirects);
        Ok(())
    })
}

/// Sets the most attempts of one download, the first included; 1 turns
/// retries off. Default 4. 0 is rejected with `TALLYFY_INVALID_ARGUMENT`.
///
/// Only transient failures are retried: 429, 502, 503 and 504 statuses,
/// timeouts, failed or reset connections and truncated bodies.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_set_retry_max_attempts(
    options: *mut tallyfy_client_options,
    max_attempts: u32,
) -> tallyfy_status {
    set(
        "tallyfy_client_options_set_retry_max_attempts",
        options,
        |options| {
            if max_attempts == 0 {
                return Err(ErrorDetail::argument(
                    "max_attempts is 0; it counts the first attempt, so it must be at least 1".to_string(),
                ));
            }
            options.retry.max_attempts = max_attempts;
            Ok(())
        },
    )
}

/// Sets the wait before the first retry, in milliseconds. It doubles for
/// each later retry, up to the maximum back-off, and varies at random by up
/// to 20% either way. Default 500.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_set_retry_initial_backoff_ms(
    options: *mut tallyfy_client_options,
    backoff_ms: u64,
) -> tallyfy_status {
    set(
        "tallyfy_client_options_set_retry_initial_backoff_ms",
        options,
        |options| {
            options.retry.initial_backoff = Duration::from_millis(backoff_ms);
            Ok(())
        },
    )
}

/// Sets the longest back-off between two attempts, in milliseconds. Default 8000.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_set_retry_max_backoff_ms(
    options: *mut tallyfy_client_options,
    backoff_ms: u64,
) -> tallyfy_status {
    set(
        "tallyfy_client_options_set_retry_max_backoff_ms",
        options,
        |options| {
            options.retry.max_backoff = Duration::from_millis(backoff_ms);
            Ok(())
        },
    )
}

/// Sets the longest single wait accepted before a retry, in milliseconds,
/// `Retry-After` included: a server that requests a longer wait makes the
/// download fail at once. Default 30000.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_set_retry_max_wait_ms(
    options: *mut tallyfy_client_options,
    wait_ms: u64,
) -> tallyfy_status {
    set(
        "tallyfy_client_options_set_retry_max_wait_ms",
        options,
        |options| {
            options.retry.max_wait = Duration::from_millis(wait_ms);
            Ok(())
        },
    )
}

/// Sets the most time one download may spend waiting between attempts,
/// added up, in milliseconds. Default 60000.
#[no_mangle]
pub extern "C" fn tallyfy_client_options_set_retry_max_total_wait_ms(
    options: *mut tallyfy_client_options,
    wait_ms: u64,
) -> tallyfy_status {
    set(
        "tallyfy_client_options_set_retry_max_total_wait_ms",
        options,
        |options| {
            options.retry.max_total_wait = Duration::from_millis(wait_ms);
            Ok(())
        },
    )
}

/// Checks the options and builds a client from them.
///
/// On success `*out_client` receives a new client that the caller frees with
/// `tallyfy_client_free`. The options are only read: free or reuse them at will.
///
/// Errors: `TALLYFY_INVALID_ARGUMENT` for a missing or malformed token, an
/// invalid organization ID, base URL, header value or proxy, or a CA file
/// without a certificate. `TALLYFY_IO_ERROR` when the CA file cannot be read.
#[no_mangle]
pub extern "C" fn tallyfy_client_new(
    options: *const tallyfy_client_options,
    out_client: *mut *mut tallyfy_client,
) -> tallyfy_status {
    run("tallyfy_client_new", || {
        // SAFETY: a non-NULL pointer comes from tallyfy_client_options_new.
        let options = unsafe { arg_ref(options, "options") }?;
        let out = Out::required(out_client, "out_client")?;

        let client = options.builder.clone().retry_policy(options.retry).build()?;

        // SAFETY: Out checked the pointer; the header requires it to be writable.
        unsafe { out.write(Box::into_raw(Box::new(tallyfy_client { client }))) };
        Ok(())
    })
}

/// Frees a client and closes its pooled connections. NULL is a no-op.
///
/// No download may be running on the client, in any thread, when it is freed.
#[no_mangle]
pub extern "C" fn tallyfy_client_free(client: *mut tallyfy_client) {
    guard((), || {
        if !client.is_null() {
            // SAFETY: a non-NULL pointer comes from tallyfy_client_new and is
            // freed once, after its last use, as the header requires.
            drop(unsafe { Box::from_raw(client) });
        }
    })
}
