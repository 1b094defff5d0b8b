//! Retries, back-off and resume against scripted servers on 127.0.0.1.
//!
//! Every client here uses a retry policy with millisecond waits, so the
//! whole file runs in a few seconds. The waits that a server requests are
//! checked through the library's log lines, never by timing.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use support::sinks::{download_into, progress_restarted, Target};
use support::tls::UntrustedTlsServer;
use support::{
    client, fast_retries, file_headers, head, logs, pattern, response, Conn, FullDiskWriter, RawServer,
    RefusingPort,
};
use tallyfy_files::{Client, ErrorKind, IfExists, RetryPolicy};

/// Serves `failure` for the first `failures` requests, then the file.
fn fail_then_serve(failures: usize, failure: Vec<u8>, file: Vec<u8>) -> RawServer {
    RawServer::start(move |mut conn: Conn| {
        if conn.index() < failures {
            conn.send(&failure);
        } else {
            conn.send(&response("200 OK", &file_headers("file.bin"), &file));
        }
    })
}

fn json_error(status: &str, code: &str, extra: &[(&str, String)]) -> Vec<u8> {
    let mut headers = vec![("Content-Type", "application/json".to_string())];
    headers.extend_from_slice(extra);
    let body = format!(r#"{{"error":true,"message":"test failure","code":"{code}"}}"#);
    response(status, &headers, body.as_bytes())
}

/// Returns the waits, in milliseconds, that the library logged before retries.
fn logged_waits(file_id: &str) -> Vec<u64> {
    logs::for_file(file_id)
        .iter()
        .filter_map(|line| {
            let rest = line.split("retrying in ").nth(1)?;
            rest.strip_suffix(" ms")?.parse().ok()
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Statuses that are retried.

#[test]
fn rate_limit_waits_retry_after_seconds() {
    logs::install();
    let file = pattern(10_000, 1);
    let server = fail_then_serve(
        1,
        json_error(
            "429 Too Many Requests",
            "RATE_LIMITED",
            &[("Retry-After", "1".to_string())],
        ),
        file.clone(),
    );
    let policy = RetryPolicy {
        max_wait: Duration::from_secs(5),
        ..fast_retries(3)
    };
    let client = client(&server.base_url(), policy);

    let (data, info) = client
        .download("ratesec")
        .to_vec(u64::MAX)
        .expect("retried after 429");

    assert_eq!(data, file, "body after the retry");
    assert_eq!(info.status, 200, "final status");
    assert_eq!(server.request_count(), 2, "one 429 and one success");
    assert_eq!(
        logged_waits("ratesec"),
        vec![1000],
        "the logged wait is Retry-After's 1 s"
    );
}

#[test]
fn rate_limit_waits_retry_after_date() {
    logs::install();
    let file = pattern(10_000, 2);

    // A date in the past means "now": the retry follows at once.
    let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(3600));
    let server = fail_then_serve(
        1,
        json_error("429 Too Many Requests", "RATE_LIMITED", &[("Retry-After", past)]),
        file.clone(),
    );
    let client_past = client(&server.base_url(), fast_retries(3));
    let (data, _) = client_past
        .download("datepast")
        .to_vec(u64::MAX)
        .expect("retried after 429");
    assert_eq!(data, file, "body after a past Retry-After date");
    assert_eq!(server.request_count(), 2, "requests with a past date");
    assert_eq!(logged_waits("datepast"), vec![0], "a past date waits 0 ms");

    // A date two seconds ahead waits until then (HTTP dates have whole seconds).
    let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    let server = fail_then_serve(
        1,
        json_error("429 Too Many Requests", "RATE_LIMITED", &[("Retry-After", soon)]),
        file.clone(),
    );
    let client_soon = client(&server.base_url(), fast_retries(3));
    let (data, _) = client_soon
        .download("datesoon")
        .to_vec(u64::MAX)
        .expect("retried after 429");
    assert_eq!(data, file, "body after a future Retry-After date");
    let waits = logged_waits("datesoon");
    assert_eq!(waits.len(), 1, "one logged retry: {waits:?}");
    assert!(
        waits[0] > 0 && waits[0] <= 2000,
        "the wait follows the date: {waits:?}"
    );
}

#[test]
fn long_retry_after_fails_at_once() {
    logs::install();
    let server = fail_then_serve(
        usize::MAX,
        json_error(
            "429 Too Many Requests",
            "RATE_LIMITED",
            &[("Retry-After", "120".to_string())],
        ),
        Vec::new(),
    );
    let policy = RetryPolicy {
        max_wait: Duration::from_secs(30),
        ..fast_retries(4)
    };
    let client = client(&server.base_url(), policy);

    let err = client.download("ratelong").to_vec(u64::MAX).unwrap_err();

    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert_eq!(
        server.request_count(),
        1,
        "no retry when Retry-After exceeds max_wait"
    );
    match &err {
        tallyfy_files::Error::RateLimited { retry_after, .. } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(120)), "the parsed wait");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(
        err.to_string().contains("120 seconds"),
        "the message reports the wait: {err}"
    );
    assert!(logged_waits("ratelong").is_empty(), "no retry was logged");
}

#[test]
fn rate_limit_far_date_fails_at_once() {
    let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
    let server = fail_then_serve(
        usize::MAX,
        json_error("429 Too Many Requests", "RATE_LIMITED", &[("Retry-After", later)]),
        Vec::new(),
    );
    let client = client(&server.base_url(), fast_retries(4));

    let err = client.download("ratefar").to_vec(u64::MAX).unwrap_err();

    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert_eq!(server.request_count(), 1, "no retry for a date an hour ahead");
    let seconds = match &err {
        tallyfy_files::Error::RateLimited {
            retry_after: Some(wait),
            ..
        } => wait.as_secs(),
        other => panic!("expected RateLimited with a wait, got {other:?}"),
    };
    assert!((3500..=3600).contains(&seconds), "parsed wait {seconds} s");
    assert!(
        err.to_string().contains(&format!("{seconds} seconds")),
        "message: {err}"
    );
}

#[test]
fn gateway_statuses_retried_then_succeed() {
    logs::install();
    for (status, file_id) in [
        ("502 Bad Gateway", "gw502"),
        ("503 Service Unavailable", "gw503"),
        ("504 Gateway Timeout", "gw504"),
    ] {
        let file = pattern(50_000, 3);
        let server = fail_then_serve(
            2,
            response(status, &[], b"<html>upstream down</html>"),
            file.clone(),
        );
        let client = client(&server.base_url(), fast_retries(4));

        let (data, info) = client
            .download(file_id)
            .to_vec(u64::MAX)
            .unwrap_or_else(|err| panic!("{status}: {err}"));

        assert_eq!(data, file, "{status}: body after retries");
        assert_eq!(info.status, 200, "{status}: final status");
        assert_eq!(
            server.request_count(),
            3,
            "{status}: two failures and one success"
        );
        assert_eq!(logged_waits(file_id).len(), 2, "{status}: each retry is logged");
    }
}

#[test]
fn rate_limit_without_retry_after_backs_off() {
    logs::install();
    let file = pattern(1000, 4);
    let server = fail_then_serve(
        1,
        json_error("429 Too Many Requests", "RATE_LIMITED", &[]),
        file.clone(),
    );
    let client = client(&server.base_url(), fast_retries(3));

    let (data, _) = client
        .download("ratenone")
        .to_vec(u64::MAX)
        .expect("retried after 429");

    assert_eq!(data, file, "body after the retry");
    let waits = logged_waits("ratenone");
    assert_eq!(waits.len(), 1, "one retry: {waits:?}");
    assert!(
        waits[0] <= 6,
        "the back-off is the policy's 5 ms ±20 %: {waits:?}"
    );
}

// ---------------------------------------------------------------------------
// Network failures that are retried.

#[test]
fn connection_reset_then_success() {
    let file = pattern(20_000, 5);
    let served = file.clone();
    let server = RawServer::start(move |mut conn| {
        if conn.index() == 0 {
            conn.reset();
        } else {
            conn.send(&response("200 OK", &file_headers("file.bin"), &served));
        }
    });
    let client = client(&server.base_url(), fast_retries(3));

    let (data, _) = client
        .download("reset1")
        .to_vec(u64::MAX)
        .expect("retried after a reset");

    assert_eq!(data, file, "body after the retry");
    assert_eq!(server.request_count(), 2, "one reset and one success");
}

#[test]
fn refused_connect_then_success() {
    logs::install();
    let refusing = RefusingPort::new();
    let base_url = format!("http://127.0.0.1:{}/api", refusing.port());
    let policy = RetryPolicy {
        max_attempts: 50,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(20),
        max_wait: Duration::from_secs(1),
        max_total_wait: Duration::from_secs(20),
    };
    let client = client(&base_url, policy);
    let file = pattern(30_000, 6);

    let downloader = std::thread::spawn(move || client.download("refused1").to_vec(u64::MAX));

    // Start listening only once a refused attempt was logged, so the test
    // does not depend on how fast the download thread starts.
    let logged = (0..1000).any(|_| {
        let refused = logs::for_file("refused1")
            .iter()
            .any(|line| line.contains("attempt 1 failed"));
        if !refused {
            std::thread::sleep(Duration::from_millis(10));
        }
        refused
    });
    assert!(
        logged,
        "the first refused attempt was logged: {:?}",
        logs::for_file("refused1")
    );
    let served = file.clone();
    let server = RawServer::on_listener(refusing.listen(), move |mut conn| {
        conn.send(&response("200 OK", &file_headers("file.bin"), &served));
    });

    let (data, _) = downloader
        .join()
        .unwrap()
        .expect("retried until the port listened");

    assert_eq!(data, file, "body after the refused attempts");
    assert_eq!(server.request_count(), 1, "one request once the port listened");
    let first = logs::for_file("refused1")
        .into_iter()
        .find(|line| line.contains("attempt 1 failed"))
        .unwrap();
    assert!(
        first.contains("refused"),
        "the logged failure names the refusal: {first}"
    );
}

// ---------------------------------------------------------------------------
// Limits of the policy.

#[test]
fn attempt_cap_stops_retries() {
    for (max_attempts, expected_requests) in [(0u32, 1usize), (1, 1), (3, 3)] {
        let server = fail_then_serve(
            usize::MAX,
            response("503 Service Unavailable", &[], b""),
            Vec::new(),
        );
        let client = client(&server.base_url(), fast_retries(max_attempts));

        let err = client.download("capped").to_vec(u64::MAX).unwrap_err();

        assert_eq!(
            err.kind(),
            ErrorKind::HttpStatus,
            "max_attempts {max_attempts}: {err}"
        );
        assert_eq!(
            err.http_status(),
            Some(503),
            "max_attempts {max_attempts}: status"
        );
        assert_eq!(
            server.request_count(),
            expected_requests,
            "max_attempts {max_attempts}: requests sent"
        );
    }
}

#[test]
fn default_policy_makes_four_attempts() {
    assert_eq!(RetryPolicy::default().max_attempts, 4, "default attempt cap");
    assert_eq!(
        RetryPolicy::default().max_wait,
        Duration::from_secs(30),
        "default single wait cap"
    );
    assert_eq!(RetryPolicy::never().max_attempts, 1, "never() makes one attempt");
}

#[test]
fn total_wait_cap_stops_retries() {
    logs::install();
    let server = fail_then_serve(
        usize::MAX,
        response("503 Service Unavailable", &[], b""),
        Vec::new(),
    );
    // Back-offs are 50 ms then 100 ms, each ±20 %: the first fits in 110 ms,
    // the first two together (at least 120 ms) do not.
    let policy = RetryPolicy {
        max_attempts: 10,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_secs(1),
        max_wait: Duration::from_secs(1),
        max_total_wait: Duration::from_millis(110),
    };
    let client = client(&server.base_url(), policy);

    let err = client.download("totalcap").to_vec(u64::MAX).unwrap_err();

    assert_eq!(
        err.http_status(),
        Some(503),
        "the last failure is reported: {err}"
    );
    assert_eq!(
        server.request_count(),
        2,
        "the second back-off would pass the total cap"
    );
    let waits = logged_waits("totalcap");
    assert_eq!(waits.len(), 1, "one logged retry: {waits:?}");
    assert!(
        (40..=60).contains(&waits[0]),
        "first back-off is 50 ms ±20 %: {waits:?}"
    );
}

// ---------------------------------------------------------------------------
// Failures that are never retried.

#[test]
fn client_errors_not_retried() {
    let cases = [
        ("400 Bad Request", ErrorKind::HttpStatus),
        ("401 Unauthorized", ErrorKind::Unauthorized),
        ("403 Forbidden", ErrorKind::Forbidden),
        ("404 Not Found", ErrorKind::NotFound),
        ("410 Gone", ErrorKind::HttpStatus),
        ("500 Internal Server Error", ErrorKind::HttpStatus),
    ];
    for (status, kind) in cases {
        let server = fail_then_serve(usize::MAX, json_error(status, "SOME_CODE", &[]), Vec::new());
        let client = client(&server.base_url(), fast_retries(4));

        let err = client.download("noretry").to_vec(u64::MAX).unwrap_err();

        assert_eq!(err.kind(), kind, "{status}: {err}");
        assert_eq!(server.request_count(), 1, "{status} is not retried");
        assert_eq!(
            err.api_detail().and_then(|detail| detail.code.as_deref()),
            Some("SOME_CODE"),
            "{status}: the JSON code reaches the error"
        );
    }
}

#[test]
fn tls_failure_not_retried() {
    let server = UntrustedTlsServer::start();
    let client = client(&server.base_url(), fast_retries(4));

    let err = client.download("tlsbad").to_vec(u64::MAX).unwrap_err();

    assert_eq!(
        err.kind(),
        ErrorKind::Tls,
        "an untrusted certificate is a TLS error: {err}"
    );
    assert_eq!(server.connection_count(), 1, "a TLS failure is not retried");
}

#[test]
fn plain_http_on_https_port_is_tls_error() {
    let server = RawServer::start_raw(|mut conn| {
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
    });
    let client = client(
        &format!("https://127.0.0.1:{}/api", server.port()),
        fast_retries(4),
    );

    let err = client.download("tlsplain").to_vec(u64::MAX).unwrap_err();

    assert_eq!(
        err.kind(),
        ErrorKind::Tls,
        "plain HTTP where TLS was expected: {err}"
    );
    assert_eq!(server.connection_count(), 1, "a TLS failure is not retried");
}

#[test]
fn invalid_arguments_send_nothing() {
    let server = fail_then_serve(0, Vec::new(), pattern(10, 7));
    let client = client(&server.base_url(), fast_retries(4));

    for bad_id in ["", "..", "a/b", "a?b", "a b"] {
        let err = client.download(bad_id).to_vec(u64::MAX).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidArgument,
            "file ID {bad_id:?}: {err}"
        );
    }
    let err = client
        .download("fine")
        .org_id("../other")
        .to_vec(u64::MAX)
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::InvalidArgument,
        "bad organization ID: {err}"
    );

    let no_org = Client::builder()
        .token(support::TOKEN)
        .base_url(server.base_url())
        .retry_policy(fast_retries(4))
        .build()
        .unwrap();
    let err = no_org.download("fine").to_vec(u64::MAX).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::InvalidArgument,
        "missing organization ID: {err}"
    );

    assert_eq!(server.connection_count(), 0, "no request for invalid arguments");
}

#[test]
fn full_disk_writer_not_retried() {
    let file = pattern(100_000, 8);
    let server = fail_then_serve(0, Vec::new(), file.clone());
    let client = client(&server.base_url(), fast_retries(4));
    let mut writer = FullDiskWriter::new(10_000);

    let err = client.download("enospc").to_writer(&mut writer).unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Write, "{err}");
    assert_eq!(err.os_error(), Some(libc::ENOSPC), "the OS error is kept: {err}");
    assert_eq!(server.request_count(), 1, "a full disk is not retried");
    assert_eq!(
        writer.taken,
        file[..10_000],
        "the writer holds the bytes it accepted"
    );
}

#[test]
fn full_disk_path_not_retried() {
    let mount = match support::mounts::Tmpfs::mount(64 * 1024) {
        Ok(mount) => mount,
        Err(err) => {
            println!("SKIPPED full_disk_path_not_retried: cannot mount a tmpfs here ({err})");
            return;
        }
    };
    let file = pattern(1024 * 1024, 9);
    let server = fail_then_serve(0, Vec::new(), file);
    let client = client(&server.base_url(), fast_retries(4));

    let err = client
        .download("fulldisk")
        .to_path(mount.path().join("big.bin"), IfExists::Replace)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert_eq!(err.os_error(), Some(libc::ENOSPC), "the OS error is kept: {err}");
    assert_eq!(server.request_count(), 1, "a full disk is not retried");
    assert!(
        support::folder_entries(mount.path()).is_empty(),
        "no temporary file is left"
    );
}

// ---------------------------------------------------------------------------
// Restarting sinks after a body broke off.

/// Sends the headers and the first `cut` bytes of `file`, then closes,
/// on the first `cut_count` requests; the whole file afterwards.
fn cut_then_serve(
    file: Vec<u8>,
    cut: usize,
    cut_count: usize,
    extra: Vec<(&'static str, String)>,
) -> RawServer {
    RawServer::start(move |mut conn| {
        let mut headers = file_headers("file.bin");
        headers.extend(extra.iter().cloned());
        if conn.index() < cut_count {
            headers.push(("Content-Length", file.len().to_string()));
            conn.send(&head("200 OK", &headers));
            conn.send(&file[..cut]);
            conn.close();
        } else {
            conn.send(&response("200 OK", &headers, &file));
        }
    })
}

#[test]
fn restartable_sinks_restart_cleanly() {
    for target in Target::RESTARTABLE {
        let file = pattern(300_000, 10);
        let server = cut_then_serve(file.clone(), 120_000, 1, Vec::new());
        let client = client(&server.base_url(), fast_retries(3));
        let dir = tempfile::tempdir().unwrap();

        let outcome = download_into(target, &client, "restart", dir.path(), file.len());

        let info = outcome.result.unwrap_or_else(|err| panic!("{target:?}: {err}"));
        assert_eq!(info.size, file.len() as u64, "{target:?}: reported size");
        assert!(
            outcome.delivered == file,
            "{target:?}: the restarted body is byte-exact"
        );
        assert_eq!(server.request_count(), 2, "{target:?}: requests");
        assert!(
            server.requests()[1].header("range").is_none(),
            "{target:?}: no Range without a validator"
        );
        assert!(
            progress_restarted(&outcome.progress),
            "{target:?}: progress went back to 0: {:?}",
            outcome.progress
        );
        assert_eq!(
            outcome.progress.last().copied(),
            Some(file.len() as u64),
            "{target:?}: progress ends at the size"
        );
        let entries = support::folder_entries(dir.path());
        let expected: Vec<String> = match target {
            Target::Path => vec!["saved.bin".to_string()],
            Target::Folder => vec!["file.bin".to_string()],
            _ => Vec::new(),
        };
        assert_eq!(entries, expected, "{target:?}: only the final file remains");
    }
}

#[test]
fn writer_fails_after_bytes_without_resume() {
    let file = pattern(300_000, 11);
    let server = cut_then_serve(file.clone(), 120_000, 1, Vec::new());
    let client = client(&server.base_url(), fast_retries(3));
    let dir = tempfile::tempdir().unwrap();

    let outcome = download_into(Target::Writer, &client, "wrnoresume", dir.path(), 0);

    let err = outcome.result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Truncated, "{err}");
    assert_eq!(
        server.request_count(),
        1,
        "a writer that holds bytes is not restarted"
    );
    assert!(
        outcome.delivered == file[..120_000],
        "the writer holds exactly the bytes that arrived"
    );
    assert!(
        err.to_string().contains("120000 bytes"),
        "the message counts them: {err}"
    );
}

#[test]
fn writer_retried_before_first_byte() {
    let file = pattern(50_000, 12);
    let server = fail_then_serve(1, response("503 Service Unavailable", &[], b"busy"), file.clone());
    let client = client(&server.base_url(), fast_retries(3));
    let mut taken = Vec::new();

    client
        .download("wrbefore")
        .to_writer(&mut taken)
        .expect("retried before any byte");

    assert!(taken == file, "the writer holds exactly the file");
    assert_eq!(server.request_count(), 2, "requests");
}

// ---------------------------------------------------------------------------
// Resuming with Range and If-Range.

/// How the server responds to a request that carries a Range header.
#[derive(Clone, Copy, Debug, PartialEq)]
enum RangeAnswer {
    /// 206 with the matching Content-Range and the rest of the file.
    Correct,
    /// 206 whose Content-Range starts one byte late.
    WrongStart,
    /// 206 whose Content-Range gives another total size.
    WrongTotal,
    /// 200 with the whole file, as when the validator no longer matches.
    Full,
}

/// A server that cuts the first response at `cut` bytes, offering ranges
/// with `validator` (a header name and value), and responds to a Range request as `answer`.
fn resumable_server(
    file: Vec<u8>,
    cut: usize,
    validator: (&'static str, String),
    answer: RangeAnswer,
) -> RawServer {
    let hits = Arc::new(AtomicUsize::new(0));
    RawServer::start(move |mut conn| {
        let mut headers = file_headers("file.bin");
        headers.push(("Accept-Ranges", "bytes".to_string()));
        headers.push(validator.clone());
        let total = file.len();
        let first = hits.fetch_add(1, Ordering::SeqCst) == 0;

        if first {
            headers.push(("Content-Length", total.to_string()));
            conn.send(&head("200 OK", &headers));
            conn.send(&file[..cut]);
            conn.close();
            return;
        }

        let Some(start) = conn.request().range_start().map(|start| start as usize) else {
            conn.send(&response("200 OK", &headers, &file));
            return;
        };
        let rest = &file[start.min(total)..];
        let content_range = match answer {
            RangeAnswer::Correct => format!("bytes {start}-{}/{total}", total - 1),
            RangeAnswer::WrongStart => format!("bytes {}-{}/{total}", start + 1, total - 1),
            RangeAnswer::WrongTotal => format!("bytes {start}-{}/{}", total - 1 + 10, total + 10),
            RangeAnswer::Full => String::new(),
        };
        if answer == RangeAnswer::Full {
            conn.send(&response("200 OK", &headers, &file));
        } else {
            headers.push(("Content-Range", content_range));
            conn.send(&response("206 Partial Content", &headers, rest));
        }
    })
}

const RESUME_SIZE: usize = 400_000;
const RESUME_CUT: usize = 150_000;

fn etag() -> (&'static str, String) {
    ("ETag", "\"v1-abc\"".to_string())
}

fn last_modified() -> (&'static str, String) {
    ("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT".to_string())
}

#[test]
fn resume_with_etag_is_byte_exact() {
    for target in Target::ALL {
        let file = pattern(RESUME_SIZE, 13);
        let server = resumable_server(file.clone(), RESUME_CUT, etag(), RangeAnswer::Correct);
        let client = client(&server.base_url(), fast_retries(3));
        let dir = tempfile::tempdir().unwrap();

        let outcome = download_into(target, &client, "resumeetag", dir.path(), RESUME_SIZE);

        let info = outcome.result.unwrap_or_else(|err| panic!("{target:?}: {err}"));
        assert_eq!(info.size, RESUME_SIZE as u64, "{target:?}: size");
        assert!(
            outcome.delivered == file,
            "{target:?}: resumed body is byte-exact"
        );
        let requests = server.requests();
        assert_eq!(requests.len(), 2, "{target:?}: requests");
        assert_eq!(
            requests[0].header("range"),
            None,
            "{target:?}: first request has no Range"
        );
        assert_eq!(
            requests[1].header("range"),
            Some(format!("bytes={RESUME_CUT}-").as_str()),
            "{target:?}: Range starts after the bytes received"
        );
        assert_eq!(
            requests[1].header("if-range"),
            Some("\"v1-abc\""),
            "{target:?}: If-Range is the ETag"
        );
        assert_eq!(
            requests[1].header("authorization"),
            Some(format!("Bearer {}", support::TOKEN).as_str()),
            "{target:?}: the resumed request is authorised"
        );
        assert!(
            !progress_restarted(&outcome.progress),
            "{target:?}: a resume does not restart progress: {:?}",
            outcome.progress
        );
        assert!(
            outcome.progress.contains(&(RESUME_CUT as u64)),
            "{target:?}: progress passes the cut: {:?}",
            outcome.progress
        );
    }
}

#[test]
fn resume_with_last_modified_is_byte_exact() {
    for target in Target::ALL {
        let file = pattern(RESUME_SIZE, 14);
        let server = resumable_server(file.clone(), RESUME_CUT, last_modified(), RangeAnswer::Correct);
        let client = client(&server.base_url(), fast_retries(3));
        let dir = tempfile::tempdir().unwrap();

        let outcome = download_into(target, &client, "resumedate", dir.path(), RESUME_SIZE);

        outcome.result.unwrap_or_else(|err| panic!("{target:?}: {err}"));
        assert!(
            outcome.delivered == file,
            "{target:?}: resumed body is byte-exact"
        );
        let requests = server.requests();
        assert_eq!(requests.len(), 2, "{target:?}: requests");
        assert_eq!(
            requests[1].header("if-range"),
            Some("Wed, 21 Oct 2015 07:28:00 GMT"),
            "{target:?}: If-Range is the Last-Modified date"
        );
        assert_eq!(
            requests[1].range_start(),
            Some(RESUME_CUT as u64),
            "{target:?}: Range starts after the bytes received"
        );
    }
}

#[test]
fn wrong_content_range_restarts_or_fails() {
    for answer in [RangeAnswer::WrongStart, RangeAnswer::WrongTotal] {
        for target in Target::ALL {
            let file = pattern(RESUME_SIZE, 15);
            let server = resumable_server(file.clone(), RESUME_CUT, etag(), answer);
            let client = client(&server.base_url(), fast_retries(4));
            let dir = tempfile::tempdir().unwrap();

            let outcome = download_into(target, &client, "wrongrange", dir.path(), RESUME_SIZE);
            let requests = server.requests();

            assert!(
                requests.len() >= 2,
                "{answer:?} {target:?}: the Range was asked for"
            );
            assert!(
                requests[1].header("range").is_some(),
                "{answer:?} {target:?}: second request has Range"
            );
            if target == Target::Writer {
                let err = outcome.result.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::Truncated, "{answer:?} writer: {err}");
                assert_eq!(
                    requests.len(),
                    2,
                    "{answer:?} writer: no request after the bad 206"
                );
                assert!(
                    outcome.delivered == file[..RESUME_CUT],
                    "{answer:?} writer: holds only the first part, none of the bad 206"
                );
            } else {
                let info = outcome
                    .result
                    .unwrap_or_else(|err| panic!("{answer:?} {target:?}: {err}"));
                assert_eq!(info.size, RESUME_SIZE as u64, "{answer:?} {target:?}: size");
                assert!(
                    outcome.delivered == file,
                    "{answer:?} {target:?}: restarted body is byte-exact"
                );
                assert_eq!(
                    requests.len(),
                    3,
                    "{answer:?} {target:?}: a fresh request after the bad 206"
                );
                assert!(
                    requests[2].header("range").is_none(),
                    "{answer:?} {target:?}: the restart asks for the whole file"
                );
                assert!(
                    progress_restarted(&outcome.progress),
                    "{answer:?} {target:?}: progress went back to 0: {:?}",
                    outcome.progress
                );
            }
        }
    }
}

#[test]
fn full_answer_to_range_restarts_or_fails() {
    for target in Target::ALL {
        let file = pattern(RESUME_SIZE, 16);
        let server = resumable_server(file.clone(), RESUME_CUT, etag(), RangeAnswer::Full);
        let client = client(&server.base_url(), fast_retries(4));
        let dir = tempfile::tempdir().unwrap();

        let outcome = download_into(target, &client, "fullanswer", dir.path(), RESUME_SIZE);
        let requests = server.requests();

        assert!(requests.len() >= 2, "{target:?}: requests");
        assert_eq!(
            requests[1].range_start(),
            Some(RESUME_CUT as u64),
            "{target:?}: Range was asked for"
        );
        if target == Target::Writer {
            let err = outcome.result.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Truncated, "writer: {err}");
            assert_eq!(requests.len(), 2, "writer: no further request");
            assert!(
                outcome.delivered == file[..RESUME_CUT],
                "writer: holds only the first part"
            );
        } else {
            outcome.result.unwrap_or_else(|err| panic!("{target:?}: {err}"));
            assert_eq!(requests.len(), 2, "{target:?}: the 200 body is used at once");
            assert!(
                outcome.delivered == file,
                "{target:?}: the full 200 body replaces the part"
            );
            assert!(
                progress_restarted(&outcome.progress),
                "{target:?}: progress went back to 0: {:?}",
                outcome.progress
            );
        }
    }
}

#[test]
fn weak_etag_or_no_ranges_means_no_resume() {
    let cases = [
        (
            "weak ETag",
            vec![
                ("Accept-Ranges", "bytes".to_string()),
                ("ETag", "W/\"v1\"".to_string()),
            ],
        ),
        ("no Accept-Ranges", vec![("ETag", "\"v1\"".to_string())]),
        (
            "Accept-Ranges none",
            vec![
                ("Accept-Ranges", "none".to_string()),
                ("ETag", "\"v1\"".to_string()),
            ],
        ),
    ];
    for (name, extra) in cases {
        let file = pattern(RESUME_SIZE, 17);
        let server = cut_then_serve(file.clone(), RESUME_CUT, 1, extra);
        let client = client(&server.base_url(), fast_retries(3));
        let dir = tempfile::tempdir().unwrap();

        let path_outcome = download_into(Target::Path, &client, "noresume", dir.path(), 0);
        path_outcome.result.unwrap_or_else(|err| panic!("{name}: {err}"));
        assert!(
            path_outcome.delivered == file,
            "{name}: restarted body is byte-exact"
        );
        let requests = server.requests();
        assert_eq!(requests.len(), 2, "{name}: requests");
        assert!(requests[1].header("range").is_none(), "{name}: no Range is sent");
    }
}
