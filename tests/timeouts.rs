//! Stall, header and overall timeouts against real stalls on 127.0.0.1.
//!
//! The stalling cases use a 300 ms stall timeout, so each one ends quickly.
//! The slow-but-steady cases check that a moving body is never cut off.

mod support;

use std::time::Duration;

use support::{file_headers, folder_entries, head, pattern, response, RawServer};
use tallyfy_files::{Client, ErrorKind, IfExists, RetryPolicy};

const STALL: Duration = Duration::from_millis(300);

fn stalling_client(base_url: &str, policy: RetryPolicy) -> Client {
    Client::builder()
        .token(support::TOKEN)
        .org_id(support::ORG_ID)
        .base_url(base_url)
        .stall_timeout(Some(STALL))
        .retry_policy(policy)
        .build()
        .unwrap()
}

#[test]
fn server_that_never_answers_times_out() {
    let server = RawServer::start(|conn| conn.hold_open());
    let client = stalling_client(&server.base_url(), RetryPolicy::never());
    let dir = tempfile::tempdir().unwrap();

    let err = client
        .download("silent")
        .to_path(dir.path().join("out.bin"), IfExists::Replace)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(server.request_count(), 1, "requests");
    assert!(
        folder_entries(dir.path()).is_empty(),
        "nothing is left in the folder"
    );
}

#[test]
fn silent_server_timeout_is_retried() {
    let server = RawServer::start(|conn| conn.hold_open());
    let client = stalling_client(&server.base_url(), support::fast_retries(2));

    let err = client.download("silent2").to_vec(u64::MAX).unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(
        server.request_count(),
        2,
        "a timeout is transient, so it is retried"
    );
}

#[test]
fn body_stopping_with_connection_open_times_out() {
    let file = pattern(100_000, 20);
    let served = file.clone();
    let server = RawServer::start(move |mut conn| {
        let mut headers = file_headers("file.bin");
        headers.push(("Content-Length", served.len().to_string()));
        conn.send(&head("200 OK", &headers));
        conn.send(&served[..10_000]);
        conn.hold_open();
    });
    let client = stalling_client(&server.base_url(), RetryPolicy::never());
    let dir = tempfile::tempdir().unwrap();
    let destination = dir.path().join("out.bin");
    std::fs::write(&destination, b"previous contents").unwrap();

    let err = client
        .download("midbody")
        .to_path(&destination, IfExists::Replace)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(
        std::fs::read(&destination).unwrap(),
        b"previous contents",
        "the existing file is unchanged"
    );
    assert_eq!(
        folder_entries(dir.path()),
        vec!["out.bin"],
        "no temporary file is left"
    );

    // A writer keeps what arrived, and nothing more.
    let mut taken = Vec::new();
    let err = client.download("midbody").to_writer(&mut taken).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "writer: {err}");
    assert!(taken.len() <= 10_000, "writer took {} bytes", taken.len());
    assert!(
        taken == file[..taken.len()],
        "the writer holds a prefix of the body"
    );
}

#[test]
fn headers_one_byte_a_second_time_out() {
    let server = RawServer::start(|mut conn| {
        let reply = response("200 OK", &file_headers("file.bin"), b"hello");
        conn.trickle(&reply, 1, Duration::from_secs(1));
    });
    let client = stalling_client(&server.base_url(), RetryPolicy::never());

    let err = client.download("bytesec").to_vec(u64::MAX).unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
}

#[test]
fn headers_dribbled_faster_than_stall_time_out() {
    // One byte every 50 ms never leaves a single read waiting 300 ms, but
    // the whole head (about 200 bytes) would take ten seconds.
    let server = RawServer::start(|mut conn| {
        let reply = response("200 OK", &file_headers("file.bin"), b"hello");
        conn.trickle(&reply, 1, Duration::from_millis(50));
    });
    let client = stalling_client(&server.base_url(), RetryPolicy::never());

    let err = client.download("dribble").to_vec(u64::MAX).unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(
        err.to_string().contains("waiting for the response"),
        "the header limit fired, not the stall timer: {err}"
    );
}

#[test]
fn slow_steady_body_succeeds() {
    // 3 MiB in 64 KiB pieces with 50 ms gaps: about 2.4 s in all, eight
    // times the stall timeout, with no single gap reaching it.
    let file = pattern(3 * 1024 * 1024, 21);
    let served = file.clone();
    let server = RawServer::start(move |mut conn| {
        let mut headers = file_headers("file.bin");
        headers.push(("Content-Length", served.len().to_string()));
        conn.send(&head("200 OK", &headers));
        conn.trickle(&served, 64 * 1024, Duration::from_millis(50));
    });
    let client = stalling_client(&server.base_url(), RetryPolicy::never());
    let dir = tempfile::tempdir().unwrap();
    let destination = dir.path().join("slow.bin");

    let info = client
        .download("steady")
        .to_path(&destination, IfExists::Fail)
        .expect("a slow but moving body is never cut off");

    assert_eq!(info.size, file.len() as u64, "size");
    assert!(
        std::fs::read(&destination).unwrap() == file,
        "the file is byte-exact"
    );
}

/// Serves a 64 MiB file in 1 MiB pieces with `gap` between them, to a
/// client with every setting at its default, and checks the saved file.
fn download_64_mib_with_defaults(gap: Duration) {
    let file = pattern(64 * 1024 * 1024, 22);
    let served = file.clone();
    let server = RawServer::start(move |mut conn| {
        let mut headers = file_headers("big.bin");
        headers.push(("Content-Length", served.len().to_string()));
        conn.send(&head("200 OK", &headers));
        conn.trickle(&served, 1024 * 1024, gap);
    });
    let client = Client::builder()
        .token(support::TOKEN)
        .org_id(support::ORG_ID)
        .base_url(server.base_url())
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();

    let info = client
        .download("big64")
        .to_folder(dir.path(), tallyfy_files::NameConflict::Fail)
        .expect("a slow 64 MiB body succeeds with the default settings");

    assert_eq!(info.size, file.len() as u64, "size");
    assert_eq!(server.request_count(), 1, "no retry was needed");
    let saved = std::fs::read(dir.path().join("big.bin")).unwrap();
    assert!(saved == file, "the 64 MiB file is byte-exact");
}

#[test]
fn slow_64_mib_body_with_defaults() {
    // About 6.4 s of gaps: long enough to be slow, short enough for CI.
    download_64_mib_with_defaults(Duration::from_millis(100));
}

/// The same 64 MiB body spread over about 45 s, longer than the 30 s
/// default stall timeout, to show that no default limit caps a whole
/// download that keeps moving. Run it with
/// `cargo test --test timeouts -- --ignored`.
#[test]
#[ignore = "takes about 45 s; run with --ignored"]
fn very_slow_64_mib_body_with_defaults() {
    download_64_mib_with_defaults(Duration::from_millis(700));
}

#[test]
fn deadline_stops_slow_body() {
    // 1 KiB every 100 ms keeps the stall timer happy for about 10 s.
    let file = pattern(100 * 1024, 23);
    let served = file.clone();
    let server = RawServer::start(move |mut conn| {
        let mut headers = file_headers("file.bin");
        headers.push(("Content-Length", served.len().to_string()));
        conn.send(&head("200 OK", &headers));
        conn.trickle(&served, 1024, Duration::from_millis(100));
    });
    let client = Client::builder()
        .token(support::TOKEN)
        .org_id(support::ORG_ID)
        .base_url(server.base_url())
        .stall_timeout(Some(STALL))
        .deadline(Some(Duration::from_secs(1)))
        .retry_policy(support::fast_retries(4))
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();

    let err = client
        .download("deadline")
        .to_path(dir.path().join("out.bin"), IfExists::Replace)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(
        err.to_string().contains("overall deadline"),
        "the deadline fired: {err}"
    );
    assert_eq!(server.request_count(), 1, "no retry once the deadline passed");
    assert!(folder_entries(dir.path()).is_empty(), "no temporary file is left");
}

#[test]
fn deadline_bounds_retries() {
    let server = RawServer::start(|mut conn| {
        conn.send(&response("503 Service Unavailable", &[], b""));
    });
    let policy = RetryPolicy {
        max_attempts: 100,
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_millis(200),
        max_wait: Duration::from_secs(1),
        max_total_wait: Duration::from_secs(60),
    };
    let client = Client::builder()
        .token(support::TOKEN)
        .org_id(support::ORG_ID)
        .base_url(server.base_url())
        .deadline(Some(Duration::from_secs(1)))
        .retry_policy(policy)
        .build()
        .unwrap();

    let err = client.download("deadline2").to_vec(u64::MAX).unwrap_err();

    assert_eq!(
        err.http_status(),
        Some(503),
        "the last failure is reported: {err}"
    );
    // 1 s of 160-240 ms back-offs leaves room for at most 7 attempts.
    let requests = server.request_count();
    assert!(
        (2..=7).contains(&requests),
        "the deadline cut the retries short: {requests} requests"
    );
}
