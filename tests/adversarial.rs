//! Adversarial cases: a hostile server on 127.0.0.1, careless Rust callers
//! and careless C callers, each aimed at a rule that the other suites do not
//! reach. The C cases call the exported functions directly. Those that could
//! kill the process (SIGPIPE, an impossible buffer size) run in a child copy
//! of this test binary, so that a failure is reported instead of ending the run.

mod support;

use std::ffi::{c_char, c_int, CStr, CString, OsStr};
use std::io::{self, Write};
use std::net::TcpListener;
use std::ops::ControlFlow;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::process::ExitStatusExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{folder_entries, head, pattern, response, RawServer};
use tallyfy_files::{Client, ClientBuilder, ErrorKind, IfExists, NameConflict, RetryPolicy};

/// The token of every client here: long, distinctive, lower case and a valid
/// DNS label, so that a server can put it in a certificate's names.
const TOKEN: &str = "adv-tok-5ecret-q8w7e6";

const ORG: &str = "org1";

fn builder(base_url: &str) -> ClientBuilder {
    Client::builder()
        .token(TOKEN)
        .org_id(ORG)
        .base_url(base_url)
        .connect_timeout(Some(Duration::from_secs(5)))
        .stall_timeout(Some(Duration::from_secs(5)))
        .retry_policy(RetryPolicy::never())
}

fn client(base_url: &str) -> Client {
    builder(base_url)
        .build()
        .expect("the test client settings are valid")
}

/// A server that sends `reply` to every request and closes the connection.
fn serve_always(reply: Vec<u8>) -> RawServer {
    RawServer::start(move |mut conn| {
        conn.send(&reply);
        conn.close();
    })
}

fn file_response(name: &str, body: &[u8]) -> Vec<u8> {
    response("200 OK", &support::file_headers(name), body)
}

/// Encodes `body` as HTTP/1.1 chunks of `size` bytes, with the last chunk.
fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for part in body.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

// ---------------------------------------------------------------------------
// A hostile server
// ---------------------------------------------------------------------------

/// `Transfer-Encoding: chunked` overrides any `Content-Length`, even 0: the
/// body's size is then unknown, and must not be reported as 0.
#[test]
fn chunked_with_zero_length_has_no_total() {
    let body = pattern(64 * 1024, 1);
    let mut reply = head(
        "200 OK",
        &[
            ("Transfer-Encoding", "chunked".to_string()),
            ("Content-Length", "0".to_string()),
        ],
    );
    reply.extend_from_slice(&chunked(&body, 8192));
    let server = serve_always(reply);
    let totals = Mutex::new(Vec::new());

    let (bytes, info) = client(&server.base_url())
        .download("chunked-zero")
        .progress(|received, total| {
            totals.lock().unwrap().push((received, total));
            ControlFlow::Continue(())
        })
        .to_vec(1 << 20)
        .unwrap();

    assert!(bytes == body, "the chunked body arrived changed");
    assert_eq!(info.size, body.len() as u64, "size");
    let totals = totals.into_inner().unwrap();
    let declared: Vec<_> = totals.iter().filter(|(_, total)| total.is_some()).collect();
    assert!(
        declared.is_empty(),
        "a chunked body was reported with a declared total, such as {:?}",
        declared.first()
    );
}

/// 100 Continue and 103 Early Hints before the final response are skipped.
#[test]
fn informational_responses_skipped() {
    let body = pattern(5000, 2);
    let mut reply = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
    reply.extend_from_slice(b"HTTP/1.1 103 Early Hints\r\nLink: </x.css>; rel=preload\r\n\r\n");
    reply.extend_from_slice(&file_response("hints.bin", &body));
    let server = serve_always(reply);

    let (bytes, info) = client(&server.base_url())
        .download("hints")
        .to_vec(1 << 20)
        .unwrap();

    assert!(bytes == body, "the body after 1xx responses arrived changed");
    assert_eq!(info.status, 200, "final status");
    assert_eq!(info.server_file_name.as_deref(), Some("hints.bin"), "name");
}

/// An endless stream of 103 Early Hints counts against the time allowed for
/// the response headers. The server stops after four seconds and then sends
/// the file, which the client must not wait for with a half-second limit.
#[test]
fn endless_early_hints_time_out() {
    let server = RawServer::start(|mut conn| {
        for _ in 0..80 {
            if !conn.send(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n")
                || !conn.pause(Duration::from_millis(50))
            {
                return;
            }
        }
        conn.send(&file_response("late.bin", b"late"));
        conn.close();
    });
    let client = builder(&server.base_url())
        .stall_timeout(Some(Duration::from_millis(500)))
        .build()
        .unwrap();

    let result = client.download("hints-flood").to_vec(100);

    let err = result.expect_err("the client waited out a flood of 103 responses");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
}

/// A wrong `Content-Length` next to `Transfer-Encoding: chunked` is ignored.
#[test]
fn chunked_beats_wrong_length() {
    let body = pattern(10_000, 3);
    let mut reply = head(
        "200 OK",
        &[
            ("Content-Length", "999999".to_string()),
            ("Transfer-Encoding", "chunked".to_string()),
        ],
    );
    reply.extend_from_slice(&chunked(&body, 3000));
    let server = serve_always(reply);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.bin");

    let info = client(&server.base_url())
        .download("chunked-long")
        .to_path(&target, IfExists::Fail)
        .unwrap();

    assert_eq!(info.size, body.len() as u64, "size");
    assert!(std::fs::read(&target).unwrap() == body, "saved bytes differ");
}

/// Bytes after a complete response on a kept-alive connection are never
/// taken as the answer to the next request.
#[test]
fn bytes_after_body_not_next_response() {
    let server = RawServer::start(|mut conn| loop {
        let keep_alive = [("Connection", "keep-alive".to_string())];
        if conn.request().path.contains("/file/first/") {
            let mut reply = response("200 OK", &keep_alive, b"first");
            reply.extend_from_slice(&response("200 OK", &[], b"smuggled"));
            conn.send(&reply);
        } else {
            conn.send(&response("200 OK", &keep_alive, b"second-body"));
        }
        if !conn.next_request() {
            break;
        }
    });
    let client = client(&server.base_url());

    let (first, _) = client.download("first").to_vec(100).unwrap();
    let (second, _) = client.download("second").to_vec(100).unwrap();

    assert_eq!(first, b"first", "first body");
    assert_eq!(second, b"second-body", "the second download got stray bytes");
}

/// A `Content-Disposition` of about 50 KB with thousands of parameters
/// still gives the name at its end.
#[test]
fn huge_disposition_header_parsed() {
    let mut disposition = String::from("attachment");
    for index in 0..4000 {
        disposition.push_str(&format!("; p{index}=\"v;{index}\""));
    }
    disposition.push_str("; filename=\"deep.pdf\"");
    let reply = response("200 OK", &[("Content-Disposition", disposition)], b"x");
    let server = serve_always(reply);
    let dir = tempfile::tempdir().unwrap();

    let info = client(&server.base_url())
        .download("huge-header")
        .to_folder(dir.path(), NameConflict::Fail)
        .unwrap();

    assert_eq!(info.file_name, "deep.pdf", "file name");
    assert_eq!(folder_entries(dir.path()), ["deep.pdf"], "folder entries");
}

/// A certificate authority and a server certificate whose only name is
/// `name`, for a TLS server that the client trusts but whose name never
/// matches 127.0.0.1.
struct MisnamedTls {
    ca_file: std::path::PathBuf,
    config: Arc<rustls::ServerConfig>,
    _folder: tempfile::TempDir,
}

impl MisnamedTls {
    fn new(name: &str) -> MisnamedTls {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "adversarial test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();

        let server_key = rcgen::KeyPair::generate().unwrap();
        let server_params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        let server_cert = server_params.signed_by(&server_key, &ca).unwrap();

        let folder = tempfile::tempdir().unwrap();
        let ca_file = folder.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![server_cert.der().clone()], key)
            .unwrap();

        MisnamedTls {
            ca_file,
            config: Arc::new(config),
            _folder: folder,
        }
    }

    /// Runs the handshake of one connection on a thread and returns the port.
    fn serve_once(&self) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let config = self.config.clone();
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut connection = rustls::ServerConnection::new(config).unwrap();
            while connection.is_handshaking() {
                if connection.complete_io(&mut stream).is_err() {
                    break;
                }
            }
        });
        port
    }
}

/// The server that received the token redirects to a TLS server whose
/// certificate names the token: the certificate error must not repeat it.
#[test]
fn certificate_names_scrubbed_of_token() {
    let tls = MisnamedTls::new(TOKEN);
    let tls_port = tls.serve_once();
    let location = format!("https://127.0.0.1:{tls_port}/storage");
    let server = serve_always(response("302 Found", &[("Location", location)], b""));
    let client = builder(&server.base_url()).ca_file(&tls.ca_file).build().unwrap();

    let err = client.download("cert-names").to_vec(100).unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    let shown = err.to_string();
    assert!(!shown.contains(TOKEN), "the message shows the token: {shown}");
    let debug = format!("{err:?}");
    assert!(
        !debug.contains(TOKEN),
        "the Debug output shows the token: {debug}"
    );
}

/// JSON escapes that decode to the token are scrubbed like the plain token.
#[test]
fn escaped_token_in_json_scrubbed() {
    let escaped: String = TOKEN.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
    let body = format!("{{\"error\":true,\"message\":\"bad {escaped}\",\"code\":\"{escaped}\"}}");
    let server = serve_always(response(
        "401 Unauthorized",
        &[("X-Request-Id", format!("Bearer {TOKEN}"))],
        body.as_bytes(),
    ));

    let err = client(&server.base_url())
        .download("escaped-json")
        .to_vec(100)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    let shown = err.to_string();
    assert!(!shown.contains(TOKEN), "the message shows the token: {shown}");
    let detail = err.api_detail().expect("a 401 has API detail");
    for field in [&detail.message, &detail.code, &detail.request_id] {
        let text = field.as_deref().unwrap_or("");
        assert!(
            !text.contains(TOKEN),
            "a detail field shows the token: {detail:?}"
        );
    }
}

/// Retry-After values that overflow a clock or a duration end the download
/// with the 429, without a panic.
#[test]
fn huge_retry_after_no_panic() {
    let server = serve_always(response(
        "429 Too Many Requests",
        &[("Retry-After", u64::MAX.to_string())],
        b"",
    ));
    let policy = RetryPolicy {
        max_attempts: 3,
        max_wait: Duration::MAX,
        max_total_wait: Duration::MAX,
        ..RetryPolicy::default()
    };
    let client = builder(&server.base_url())
        .retry_policy(policy)
        .deadline(Some(Duration::from_secs(60)))
        .build()
        .unwrap();

    let result = catch_unwind(AssertUnwindSafe(|| client.download("retry-after").to_vec(100)));

    let outcome = result.expect("a huge Retry-After made the download panic");
    let err = outcome.expect_err("a 429 cannot succeed");
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
}

/// A back-off so long that jitter overflows a `Duration` ends the download
/// with the failure, without a panic.
#[test]
fn huge_backoff_no_panic() {
    let server = serve_always(response("503 Service Unavailable", &[], b""));
    let policy = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::MAX,
        max_backoff: Duration::MAX,
        max_wait: Duration::from_secs(1),
        ..RetryPolicy::default()
    };
    let client = builder(&server.base_url()).retry_policy(policy).build().unwrap();

    let result = catch_unwind(AssertUnwindSafe(|| client.download("backoff").to_vec(100)));

    let outcome = result.expect("a huge back-off made the download panic");
    let err = outcome.expect_err("a 503 cannot succeed");
    assert_eq!(err.http_status(), Some(503), "{err}");
}

/// No log record down to TRACE, ureq's included, contains the token, even
/// when the server echoes it in a header and in the body.
///
/// NOTE: ureq dumps response bytes at TRACE in records of 16 bytes, which
/// split an echoed token of more than 16 bytes across records, where it can
/// still be read. A shorter token would show whole.
#[test]
fn trace_logs_never_show_token() {
    support::logs::install();
    let echo = format!("{{\"message\":\"you sent Bearer {TOKEN}\"}}");
    let server = RawServer::start(move |mut conn| {
        let reply = if conn.request().path.contains("/dl") {
            response("302 Found", &[("Location", "/api/blob".to_string())], b"")
        } else {
            response(
                "403 Forbidden",
                &[("X-Request-Id", format!("Bearer {TOKEN}"))],
                echo.as_bytes(),
            )
        };
        conn.send(&reply);
        conn.close();
    });

    let err = client(&server.base_url())
        .download("trace-logs")
        .to_vec(100)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .all(|request| request.header("authorization").is_some()),
        "a same-origin redirect kept the token, so the logs had it to leak"
    );
    let lines = support::logs::all();
    for line in &lines {
        assert!(!line.contains(TOKEN), "a log record shows the token: {line}");
    }
    assert!(
        lines.iter().any(|line| line.contains("download trace-logs:")),
        "the logger captured none of this download's records"
    );
}

/// Unicode IDs become percent-encoded path segments and a fallback name.
#[test]
fn unicode_ids_encoded_once() {
    let server = serve_always(response("200 OK", &[], b"unicode"));
    let file_id = "файл-𝔘";
    let dir = tempfile::tempdir().unwrap();

    let info = client(&server.base_url())
        .download(file_id)
        .org_id("орг")
        .to_folder(dir.path(), NameConflict::Fail)
        .unwrap();

    let path = &server.requests()[0].path;
    assert_eq!(
        path, "/api/organizations/%D0%BE%D1%80%D0%B3/file/%D1%84%D0%B0%D0%B9%D0%BB-%F0%9D%94%98/dl",
        "request path"
    );
    assert_eq!(info.file_name, "tallyfy-file-файл-𝔘", "fallback name");
    assert_eq!(
        std::fs::read(dir.path().join("tallyfy-file-файл-𝔘")).unwrap(),
        b"unicode",
        "saved bytes"
    );
}

// ---------------------------------------------------------------------------
// Careless Rust callers
// ---------------------------------------------------------------------------

/// A FIFO at the destination is never replaced by a regular file, which as
/// root would also destroy a device such as /dev/null.
#[test]
fn fifo_destination_not_replaced() {
    let server = serve_always(file_response("x.bin", b"payload"));
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let name = CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo reads a NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0, "mkfifo failed");

    let err = client(&server.base_url())
        .download("fifo")
        .to_path(&fifo, IfExists::Replace)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "the FIFO was replaced by {kind:?}");
    assert_eq!(folder_entries(dir.path()), ["pipe"], "folder entries");
    assert_eq!(
        server.request_count(),
        0,
        "a request was sent for a rejected destination"
    );
}

/// A progress callback that panics unwinds to the caller, leaving the old
/// file as it was and no temporary file.
#[test]
fn panicking_progress_leaves_nothing() {
    let body = pattern(300_000, 4);
    let server = serve_always(file_response("p.bin", &body));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("keep.bin");
    std::fs::write(&target, b"old contents").unwrap();
    let client = client(&server.base_url());

    let result = catch_unwind(AssertUnwindSafe(|| {
        client
            .download("panicky")
            .progress(|received, _| {
                if received > 0 {
                    panic!("progress callback bug");
                }
                ControlFlow::Continue(())
            })
            .to_path(&target, IfExists::Replace)
    }));

    assert!(result.is_err(), "the panic did not reach the caller");
    assert_eq!(
        std::fs::read(&target).unwrap(),
        b"old contents",
        "old file changed"
    );
    assert_eq!(folder_entries(dir.path()), ["keep.bin"], "folder entries");
}

/// A writer that panics unwinds to the caller, and the client still works.
#[test]
fn panicking_writer_keeps_client_usable() {
    struct Panicky;
    impl Write for Panicky {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            panic!("writer bug");
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let server = serve_always(file_response("w.bin", b"writer body"));
    let client = client(&server.base_url());

    let result = catch_unwind(AssertUnwindSafe(|| {
        client.download("writer").to_writer(&mut Panicky)
    }));
    let (bytes, _) = client.download("writer").to_vec(100).unwrap();

    assert!(result.is_err(), "the panic did not reach the caller");
    assert_eq!(bytes, b"writer body", "download after the panic");
}

/// A destination whose parent is a file fails before any request.
#[test]
fn parent_is_file_rejected() {
    let server = serve_always(file_response("x.bin", b"x"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, b"plain file").unwrap();

    let err = client(&server.base_url())
        .download("parent-file")
        .to_path(file.join("child.bin"), IfExists::Replace)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"plain file",
        "the parent file changed"
    );
    assert_eq!(server.request_count(), 0, "requests sent");
}

/// A path that is not UTF-8 is saved under exactly its bytes.
#[test]
fn non_utf8_path_kept_exact() {
    let server = serve_always(file_response("x.bin", b"latin-1 name"));
    let dir = tempfile::tempdir().unwrap();
    let name = OsStr::from_bytes(b"caf\xe9.bin");
    let target = dir.path().join(name);

    let info = client(&server.base_url())
        .download("non-utf8")
        .to_path(&target, IfExists::Fail)
        .unwrap();

    assert_eq!(std::fs::read(&target).unwrap(), b"latin-1 name", "saved bytes");
    assert_eq!(info.path.as_deref(), Some(target.as_path()), "reported path");
}

/// Removing the destination folder mid-download gives an I/O error.
#[test]
fn folder_removed_midway_is_io_error() {
    let server = serve_always(file_response("x.bin", &pattern(100_000, 5)));
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("sub");
    std::fs::create_dir(&folder).unwrap();
    let target = folder.join("file.bin");

    let err = client(&server.base_url())
        .download("folder-gone")
        .progress(|_, _| {
            let _ = std::fs::remove_dir_all(&folder);
            ControlFlow::Continue(())
        })
        .to_path(&target, IfExists::Replace)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(!folder.exists(), "the removed folder came back");
}

/// An empty buffer takes an empty body, whether or not its size is declared.
#[test]
fn empty_slice_takes_empty_body() {
    let sized = serve_always(response("200 OK", &[], b""));
    let open_ended = serve_always(head("200 OK", &[]));

    for (what, server) in [("sized", &sized), ("close-delimited", &open_ended)] {
        let info = client(&server.base_url())
            .download("empty")
            .to_slice(&mut [])
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(info.size, 0, "{what}: size");
    }
}

/// `max_size(0)` takes an empty body and rejects one byte, leaving no file.
#[test]
fn max_size_zero_limits() {
    let empty = serve_always(head("200 OK", &[]));
    let one = serve_always(head("200 OK", &[]).into_iter().chain(*b"1").collect());
    let dir = tempfile::tempdir().unwrap();

    let info = client(&empty.base_url())
        .download("zero")
        .max_size(0)
        .to_path(dir.path().join("empty.bin"), IfExists::Fail)
        .unwrap();
    let err = client(&one.base_url())
        .download("zero")
        .max_size(0)
        .to_path(dir.path().join("one.bin"), IfExists::Fail)
        .unwrap_err();

    assert_eq!(info.size, 0, "empty body size");
    assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    assert_eq!(folder_entries(dir.path()), ["empty.bin"], "folder entries");
}

/// Timeouts and deadlines of `Duration::MAX` mean "no limit", not a panic.
#[test]
fn max_durations_mean_no_limit() {
    let server = serve_always(file_response("t.bin", b"timeouts"));
    type Setting = fn(ClientBuilder) -> ClientBuilder;
    let settings: [(&str, Setting); 3] = [
        ("deadline", |b| b.deadline(Some(Duration::MAX))),
        ("stall timeout", |b| b.stall_timeout(Some(Duration::MAX))),
        ("connect timeout", |b| b.connect_timeout(Some(Duration::MAX))),
    ];

    for (what, apply) in settings {
        let client = apply(builder(&server.base_url())).build().unwrap();
        let result = catch_unwind(AssertUnwindSafe(|| client.download("durations").to_vec(100)));
        let outcome = result.unwrap_or_else(|_| panic!("a {what} of Duration::MAX panicked"));
        let (bytes, _) = outcome.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(bytes, b"timeouts", "{what}: body");
    }
}

// ---------------------------------------------------------------------------
// Careless C callers
// ---------------------------------------------------------------------------

/// The exported C functions, declared as the header declares them. They are
/// linked from this crate's library like any other symbol.
mod c {
    use std::ffi::{c_char, c_int, c_void};

    pub enum Options {}
    pub enum Client {}

    pub const OK: i32 = 0;
    pub const INVALID_ARGUMENT: i32 = 1;
    pub const NOT_FOUND: i32 = 4;
    pub const WRITE_ERROR: i32 = 17;

    extern "C" {
        pub fn tallyfy_client_options_new(out: *mut *mut Options) -> i32;
        pub fn tallyfy_client_options_free(options: *mut Options);
        pub fn tallyfy_client_options_set_token(options: *mut Options, token: *const c_char) -> i32;
        pub fn tallyfy_client_options_set_org_id(options: *mut Options, org_id: *const c_char) -> i32;
        pub fn tallyfy_client_options_set_base_url(options: *mut Options, url: *const c_char) -> i32;
        pub fn tallyfy_client_options_set_connect_timeout_ms(options: *mut Options, ms: u64) -> i32;
        pub fn tallyfy_client_options_set_stall_timeout_ms(options: *mut Options, ms: u64) -> i32;
        pub fn tallyfy_client_options_set_deadline_ms(options: *mut Options, ms: u64) -> i32;
        pub fn tallyfy_client_options_set_retry_max_attempts(options: *mut Options, attempts: u32) -> i32;
        pub fn tallyfy_client_options_set_retry_max_wait_ms(options: *mut Options, ms: u64) -> i32;
        pub fn tallyfy_client_options_set_retry_max_total_wait_ms(options: *mut Options, ms: u64) -> i32;
        pub fn tallyfy_client_new(options: *const Options, out: *mut *mut Client) -> i32;
        pub fn tallyfy_client_free(client: *mut Client);
        pub fn tallyfy_download_to_fd(
            client: *const Client,
            file_id: *const c_char,
            options: *const c_void,
            fd: c_int,
            out_info: *mut *mut c_void,
        ) -> i32;
        pub fn tallyfy_download_to_buffer(
            client: *const Client,
            file_id: *const c_char,
            options: *const c_void,
            buf: *mut u8,
            capacity: usize,
            out_len: *mut usize,
            out_info: *mut *mut c_void,
        ) -> i32;
        pub fn tallyfy_download_to_memory(
            client: *const Client,
            file_id: *const c_char,
            options: *const c_void,
            max_size: u64,
            out_data: *mut *mut u8,
            out_len: *mut usize,
            out_info: *mut *mut c_void,
        ) -> i32;
        pub fn tallyfy_data_free(data: *mut u8);
        pub fn tallyfy_last_error_message() -> *const c_char;
        pub fn tallyfy_last_error_api_message() -> *const c_char;
        pub fn tallyfy_last_error_os_errno() -> c_int;
    }
}

/// Builds a C client for `base_url` with the test token, after `configure`
/// has set further options.
fn c_client(base_url: &str, configure: impl FnOnce(*mut c::Options)) -> *mut c::Client {
    let token = CString::new(TOKEN).unwrap();
    let org = CString::new(ORG).unwrap();
    let url = CString::new(base_url).unwrap();
    // SAFETY: each call gets the options object created here and strings
    // that outlive it; the client is freed by the caller.
    unsafe {
        let mut options = std::ptr::null_mut();
        assert_eq!(c::tallyfy_client_options_new(&mut options), c::OK, "options_new");
        assert_eq!(
            c::tallyfy_client_options_set_token(options, token.as_ptr()),
            c::OK
        );
        assert_eq!(c::tallyfy_client_options_set_org_id(options, org.as_ptr()), c::OK);
        assert_eq!(
            c::tallyfy_client_options_set_base_url(options, url.as_ptr()),
            c::OK
        );
        assert_eq!(
            c::tallyfy_client_options_set_retry_max_attempts(options, 1),
            c::OK
        );
        configure(options);
        let mut client = std::ptr::null_mut();
        let status = c::tallyfy_client_new(options, &mut client);
        c::tallyfy_client_options_free(options);
        assert_eq!(
            status,
            c::OK,
            "client_new: {}",
            c_text(c::tallyfy_last_error_message())
        );
        client
    }
}

fn c_text(pointer: *const c_char) -> String {
    if pointer.is_null() {
        return String::new();
    }
    // SAFETY: the library returns NUL-terminated strings that stay valid
    // until this thread's next call that returns a status.
    unsafe { CStr::from_ptr(pointer) }.to_string_lossy().into_owned()
}

/// The environment variable that makes a copy of this binary run one case
/// in child mode.
const CHILD_CASE: &str = "TALLYFY_ADVERSARIAL_CHILD";

fn is_child(case: &str) -> bool {
    std::env::var(CHILD_CASE).is_ok_and(|value| value == case)
}

/// Runs test `case` in a child copy of this binary and returns its stdout,
/// failing when the child died or failed.
fn run_in_child(case: &str) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([case, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_CASE, case)
        .output()
        .expect("starting a copy of the test binary");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.signal().is_none(),
        "{case}: the process was killed by signal {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status.signal()
    );
    assert!(
        output.status.success(),
        "{case}: the child failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    stdout
}

/// A pipe whose reader is gone gives a write error, not a SIGPIPE that kills
/// a C program which left SIGPIPE at its default action.
#[test]
fn c_fd_pipe_without_reader() {
    const CASE: &str = "c_fd_pipe_without_reader";
    if !is_child(CASE) {
        let stdout = run_in_child(CASE);
        assert!(
            stdout.contains(&format!("RESULT status={} errno={}", c::WRITE_ERROR, libc::EPIPE)),
            "child output: {stdout}"
        );
        return;
    }

    // SAFETY: restores the default action, as a C program has it; this
    // process runs only this case.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let server = serve_always(file_response("x.bin", &pattern(256 * 1024, 6)));
    let client = c_client(&server.base_url(), |_| {});
    let mut fds = [0 as c_int; 2];
    // SAFETY: pipe writes two descriptors into the array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    // SAFETY: closes the read end this case owns.
    unsafe { libc::close(fds[0]) };
    let id = CString::new("pipe").unwrap();

    // SAFETY: a live client, a valid string and an open descriptor.
    let status = unsafe {
        c::tallyfy_download_to_fd(
            client,
            id.as_ptr(),
            std::ptr::null(),
            fds[1],
            std::ptr::null_mut(),
        )
    };
    let errno = unsafe { c::tallyfy_last_error_os_errno() };

    println!("RESULT status={status} errno={errno}");
    // SAFETY: the client and descriptor are not used after this.
    unsafe {
        libc::close(fds[1]);
        c::tallyfy_client_free(client);
    }
}

/// A descriptor open only for reading gives a write error with EBADF.
#[test]
fn c_fd_read_only() {
    let server = serve_always(file_response("x.bin", b"read-only"));
    let client = c_client(&server.base_url(), |_| {});
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.bin");
    std::fs::write(&path, b"unchanged").unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let id = CString::new("read-only").unwrap();

    // SAFETY: a live client, a valid string and an open descriptor.
    let status = unsafe {
        use std::os::fd::AsRawFd;
        c::tallyfy_download_to_fd(
            client,
            id.as_ptr(),
            std::ptr::null(),
            file.as_raw_fd(),
            std::ptr::null_mut(),
        )
    };
    let errno = unsafe { c::tallyfy_last_error_os_errno() };
    unsafe { c::tallyfy_client_free(client) };

    assert_eq!(status, c::WRITE_ERROR, "status");
    assert_eq!(errno, libc::EBADF, "errno");
    assert_eq!(std::fs::read(&path).unwrap(), b"unchanged", "file contents");
}

/// A capacity that no buffer can have is rejected, not turned into a slice.
#[test]
fn c_buffer_impossible_capacity() {
    const CASE: &str = "c_buffer_impossible_capacity";
    if !is_child(CASE) {
        let stdout = run_in_child(CASE);
        assert!(
            stdout.contains(&format!("RESULT status={} requests=0", c::INVALID_ARGUMENT)),
            "child output: {stdout}"
        );
        return;
    }

    let server = serve_always(file_response("x.bin", b"small"));
    let client = c_client(&server.base_url(), |_| {});
    let mut buffer = [0u8; 16];
    let mut length = 0usize;
    let id = CString::new("capacity").unwrap();

    // SAFETY: the buffer pointer is valid for 16 bytes; the capacity is the
    // careless part under test, which the library must reject unread.
    let status = unsafe {
        c::tallyfy_download_to_buffer(
            client,
            id.as_ptr(),
            std::ptr::null(),
            buffer.as_mut_ptr(),
            usize::MAX,
            &mut length,
            std::ptr::null_mut(),
        )
    };

    println!("RESULT status={status} requests={}", server.request_count());
    unsafe { c::tallyfy_client_free(client) };
}

/// Every timeout at UINT64_MAX milliseconds still downloads.
#[test]
fn c_max_timeouts_download() {
    let server = serve_always(file_response("x.bin", b"patient"));
    let client = c_client(&server.base_url(), |options| {
        // SAFETY: a live options object from c_client.
        unsafe {
            assert_eq!(
                c::tallyfy_client_options_set_connect_timeout_ms(options, u64::MAX),
                c::OK
            );
            assert_eq!(
                c::tallyfy_client_options_set_stall_timeout_ms(options, u64::MAX),
                c::OK
            );
            assert_eq!(
                c::tallyfy_client_options_set_deadline_ms(options, u64::MAX),
                c::OK
            );
            assert_eq!(
                c::tallyfy_client_options_set_retry_max_wait_ms(options, u64::MAX),
                c::OK
            );
            assert_eq!(
                c::tallyfy_client_options_set_retry_max_total_wait_ms(options, u64::MAX),
                c::OK
            );
        }
    });
    let id = CString::new("timeouts").unwrap();
    let mut data = std::ptr::null_mut();
    let mut length = 0usize;

    // SAFETY: a live client and valid output pointers.
    let status = unsafe {
        c::tallyfy_download_to_memory(
            client,
            id.as_ptr(),
            std::ptr::null(),
            100,
            &mut data,
            &mut length,
            std::ptr::null_mut(),
        )
    };
    let message = c_text(unsafe { c::tallyfy_last_error_message() });
    assert_eq!(status, c::OK, "{message}");
    // SAFETY: on success the library returned `length` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(data, length) }.to_vec();
    unsafe {
        c::tallyfy_data_free(data);
        c::tallyfy_client_free(client);
    }

    assert_eq!(bytes, b"patient", "body");
}

/// A pointer into the middle of a library block is ignored by
/// `tallyfy_data_free`, and the block stays usable.
#[test]
fn c_data_free_inner_pointer_ignored() {
    let server = serve_always(file_response("x.bin", b"hello, world"));
    let client = c_client(&server.base_url(), |_| {});
    let id = CString::new("inner").unwrap();
    let mut data = std::ptr::null_mut();
    let mut length = 0usize;

    // SAFETY: a live client and valid output pointers.
    let status = unsafe {
        c::tallyfy_download_to_memory(
            client,
            id.as_ptr(),
            std::ptr::null(),
            100,
            &mut data,
            &mut length,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(status, c::OK, "download");
    // SAFETY: the inner pointer is inside the block; the library must ignore it.
    unsafe { c::tallyfy_data_free(data.add(3)) };
    // SAFETY: the block was not freed, so its bytes are still readable.
    let bytes = unsafe { std::slice::from_raw_parts(data, length) }.to_vec();
    unsafe {
        c::tallyfy_data_free(data);
        c::tallyfy_client_free(client);
    }

    assert_eq!(bytes, b"hello, world", "block after freeing an inner pointer");
}

/// A NUL inside an echoed token must not let the C error strings, which
/// cannot hold a NUL, join the token back together.
#[test]
fn c_error_nul_cannot_rebuild_token() {
    let (head_part, tail_part) = TOKEN.split_at(8);
    let body =
        format!("{{\"error\":true,\"message\":\"echo {head_part}\\u0000{tail_part}\",\"code\":\"ECHO\"}}");
    let server = serve_always(response("404 Not Found", &[], body.as_bytes()));
    let client = c_client(&server.base_url(), |_| {});
    let id = CString::new("nul-token").unwrap();
    let mut data = std::ptr::null_mut();
    let mut length = 0usize;

    // SAFETY: a live client and valid output pointers.
    let status = unsafe {
        c::tallyfy_download_to_memory(
            client,
            id.as_ptr(),
            std::ptr::null(),
            100,
            &mut data,
            &mut length,
            std::ptr::null_mut(),
        )
    };
    let message = c_text(unsafe { c::tallyfy_last_error_message() });
    let api_message = c_text(unsafe { c::tallyfy_last_error_api_message() });
    unsafe { c::tallyfy_client_free(client) };

    assert_eq!(status, c::NOT_FOUND, "{message}");
    assert!(
        !message.contains(TOKEN),
        "the C message shows the token: {message}"
    );
    assert!(
        !api_message.contains(TOKEN),
        "the C API message shows the token: {api_message}"
    );
}

/// A 2xx status other than 200 carries no file: 202 Accepted with a JSON
/// body must not be saved as the file.
#[test]
fn accepted_status_not_saved() {
    let server = serve_always(response(
        "202 Accepted",
        &[("Content-Type", "application/json".to_string())],
        br#"{"status":"processing"}"#,
    ));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.bin");

    let err = client(&server.base_url())
        .download("pending")
        .to_path(&out, IfExists::Replace)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::HttpStatus, "{err}");
    assert_eq!(err.http_status(), Some(202), "{err}");
    assert!(folder_entries(dir.path()).is_empty(), "a file was created");
}

/// A destination ending in '/' names a folder, so it is rejected before
/// any request rather than at the rename after the whole download.
#[test]
fn trailing_slash_path_rejected() {
    let server = serve_always(file_response("x.bin", b"payload"));
    let dir = tempfile::tempdir().unwrap();
    let out = format!("{}/out.bin/", dir.path().display());

    let err = client(&server.base_url())
        .download("slash")
        .to_path(&out, IfExists::Replace)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert_eq!(server.request_count(), 0, "a request was sent");
}

/// Tokens outside the RFC 6750 character set are rejected, so that quoting
/// in messages can never hide a token from redaction.
#[test]
fn token_outside_rfc6750_rejected() {
    for token in ["quo\"te", "back\\slash", "semi;colon", "=leading", "a=b"] {
        let err = Client::builder().token(token).build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "token {token:?}: {err}");
    }
    for token in ["eyJhbGciOi.eyJzdWIi.sig-_~+/", "abc==", "adv-tok-5ecret-q8w7e6"] {
        assert!(
            Client::builder().token(token).build().is_ok(),
            "token {token:?} was rejected"
        );
    }
}
