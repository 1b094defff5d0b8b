//! Faults that httpmock cannot script, served by a raw server on 127.0.0.1:
//! bodies shorter than their length, cut chunked bodies, stalls, slow but
//! moving bodies, the overall deadline, and malformed responses.

mod common;

use std::ops::ControlFlow;
use std::time::Duration;

use common::*;
use tallyfy_files::{Error, ErrorKind, IfExists, NameConflict};

/// Returns a reply that declares `declared` bytes, sends `body`, and closes.
fn short_body(declared: usize, body: &[u8]) -> Reply {
    let length = format!("Content-Length: {declared}");
    let mut bytes = head(
        "200 OK",
        &[&length, "Content-Disposition: attachment; filename=\"cut.bin\""],
    );
    bytes.extend_from_slice(body);
    send(bytes)
}

#[test]
fn short_body_is_truncated() {
    let body = pattern(400, 1);
    let server = ScriptedServer::start(vec![short_body(1000, &body)]);
    let mut written = Vec::new();

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_writer(&mut written)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Truncated, "{err}");
    assert!(
        matches!(
            err,
            Error::Truncated {
                expected: Some(1000),
                received: 400,
                ..
            }
        ),
        "{err:?}"
    );
    let shown = err.to_string();
    assert!(
        shown.contains("400") && shown.contains("1000"),
        "message gives both counts: {shown}"
    );
    assert!(shown.contains(FILE_ID), "message names the file: {shown}");
    assert_eq!(written, body, "a writer keeps the bytes that arrived");
}

#[test]
fn short_large_body_is_truncated() {
    let body = pattern(3_000_000, 2);
    let server = ScriptedServer::start(vec![short_body(5_000_000, &body)]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big.bin");
    std::fs::write(&out, b"keep").unwrap();

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_path(&out, IfExists::Replace)
        .unwrap_err();

    assert!(
        matches!(
            err,
            Error::Truncated {
                expected: Some(5_000_000),
                received: 3_000_000,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"keep", "existing file changed");
    assert_entries(dir.path(), &["big.bin"]);
}

#[test]
fn empty_body_with_length_truncated() {
    let server = ScriptedServer::start(vec![short_body(10, b"")]);

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_vec(100)
        .unwrap_err();

    assert!(
        matches!(
            err,
            Error::Truncated {
                expected: Some(10),
                received: 0,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn cut_chunked_body_truncated() {
    let mut bytes = head("200 OK", &["Transfer-Encoding: chunked"]);
    bytes.extend_from_slice(b"5\r\nhello\r\n6\r\n wor");
    let server = ScriptedServer::start(vec![send(bytes)]);
    let dir = tempfile::tempdir().unwrap();

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_folder(dir.path(), NameConflict::Unique)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Truncated, "{err}");
    assert!(matches!(err, Error::Truncated { expected: None, .. }), "{err:?}");
    assert_entries(dir.path(), &[]);
}

#[test]
fn chunked_body_complete() {
    let mut bytes = head("200 OK", &["Transfer-Encoding: chunked"]);
    bytes.extend_from_slice(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    let server = ScriptedServer::start(vec![send(bytes)]);
    let mut totals = Vec::new();

    let (body, info) = client(&server.url("/api"))
        .download(FILE_ID)
        .progress(|_, total| {
            totals.push(total);
            ControlFlow::Continue(())
        })
        .to_vec(100)
        .unwrap();

    assert_eq!(body, b"hello world", "body");
    assert_eq!(info.size, 11, "size");
    assert!(
        totals.iter().all(Option::is_none),
        "a chunked body has no known total: {totals:?}"
    );
}

#[test]
fn close_delimited_body_complete() {
    let body = pattern(200_000, 3);
    let mut bytes = head("200 OK", &[]);
    bytes.extend_from_slice(&body);
    let server = ScriptedServer::start(vec![send(bytes)]);

    let (received, info) = client(&server.url("/api"))
        .download(FILE_ID)
        .to_vec(1 << 20)
        .unwrap();

    assert_eq!(received, body, "a body that ends with the connection is complete");
    assert_eq!(info.size, body.len() as u64, "size");
}

#[test]
fn stalled_body_times_out() {
    let body = pattern(10_000, 4);
    let length = format!("Content-Length: {}", body.len());
    let server = ScriptedServer::start(vec![vec![
        Step::Send(head("200 OK", &[&length])),
        Step::Send(body[..3000].to_vec()),
        Step::Hold,
    ]]);
    let client = builder(&server.url("/api"))
        .stall_timeout(Some(Duration::from_millis(200)))
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();

    let err = client
        .download(FILE_ID)
        .to_path(dir.path().join("stalled.bin"), IfExists::Fail)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.to_string().contains(FILE_ID), "message names the file: {err}");
    assert_entries(dir.path(), &[]);
}

#[test]
fn stalled_headers_time_out() {
    let server = ScriptedServer::start(vec![vec![Step::Hold]]);
    let client = builder(&server.url("/api"))
        .stall_timeout(Some(Duration::from_millis(200)))
        .build()
        .unwrap();

    let err = client.download(FILE_ID).to_vec(100).unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
}

/// Returns a reply that sends `count` pieces of `body` with `gap` between them.
fn trickle(body: &[u8], count: usize, gap: Duration) -> Reply {
    let length = format!("Content-Length: {}", body.len());
    let mut steps = vec![Step::Send(head("200 OK", &[&length]))];
    for piece in body.chunks(body.len().div_ceil(count)) {
        steps.push(Step::Pause(gap));
        steps.push(Step::Send(piece.to_vec()));
    }
    steps
}

#[test]
fn slow_moving_body_not_cut() {
    // Ten pieces 60 ms apart take longer in all than the 300 ms stall
    // timeout, but no single gap reaches it.
    let body = pattern(10_000, 5);
    let server = ScriptedServer::start(vec![trickle(&body, 10, Duration::from_millis(60))]);
    let client = builder(&server.url("/api"))
        .stall_timeout(Some(Duration::from_millis(300)))
        .build()
        .unwrap();

    let (received, _) = client.download(FILE_ID).to_vec(1 << 20).unwrap();

    assert_eq!(received, body, "slow body");
}

#[test]
fn deadline_cuts_moving_body() {
    let body = pattern(10_000, 6);
    let server = ScriptedServer::start(vec![trickle(&body, 40, Duration::from_millis(50))]);
    let client = builder(&server.url("/api"))
        .stall_timeout(Some(Duration::from_secs(5)))
        .deadline(Some(Duration::from_millis(300)))
        .build()
        .unwrap();
    let mut written = Vec::new();

    let err = client.download(FILE_ID).to_writer(&mut written).unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(
        written.len() < body.len(),
        "the whole body arrived before the deadline"
    );
}

#[test]
fn malformed_status_line() {
    let server = ScriptedServer::start(vec![send(b"HTTP/1.1 abc nonsense\r\n\r\nbody".to_vec())]);
    let mut written = Vec::new();

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_writer(&mut written)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert!(
        written.is_empty(),
        "bytes of a malformed response reached the writer"
    );
}

#[test]
fn closed_before_response() {
    let server = ScriptedServer::start(vec![vec![]]);

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_vec(100)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert_no_token(&err);
}

#[test]
fn retry_after_truncation_restarts() {
    let body = pattern(500_000, 7);
    let mut full = head(
        "200 OK",
        &[
            &format!("Content-Length: {}", body.len()),
            "Content-Disposition: attachment; filename=\"cut.bin\"",
        ],
    );
    full.extend_from_slice(&body);
    let server = ScriptedServer::start(vec![short_body(body.len(), &body[..123_456]), send(full)]);
    let client = builder(&server.url("/api"))
        .retry_policy(quick_retries(2))
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();

    let info = client
        .download(FILE_ID)
        .to_folder(dir.path(), NameConflict::Fail)
        .unwrap();

    assert_eq!(server.requests().len(), 2, "requests");
    assert_eq!(info.size, body.len() as u64, "size");
    assert_eq!(
        std::fs::read(dir.path().join("cut.bin")).unwrap(),
        body,
        "saved bytes after the retry"
    );
    assert_entries(dir.path(), &["cut.bin"]);
}
