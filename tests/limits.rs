//! Sizes and progress: bodies above 10 MiB arrive byte for byte, the maximum
//! size and the caller's buffer are enforced with and without a declared
//! length, and the progress callback reports and cancels.

mod common;

use std::ops::ControlFlow;

use common::*;
use httpmock::prelude::*;
use tallyfy_files::{Error, ErrorKind, IfExists, NameConflict};

/// 11 MiB and a few bytes: above ureq's 10 MiB in-memory cap and not a
/// multiple of the 1 MiB copy buffer.
const LARGE: usize = 11 * 1024 * 1024 + 12_345;

fn serve(server: &MockServer, body: &[u8]) {
    server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(200)
            .header("content-disposition", "attachment; filename=\"large.bin\"")
            .body(body);
    });
}

/// Serves `body` without a `Content-Length`, ending it by closing the connection.
fn serve_unsized(body: &[u8]) -> ScriptedServer {
    let mut bytes = head(
        "200 OK",
        &["Content-Disposition: attachment; filename=\"unsized.bin\""],
    );
    bytes.extend_from_slice(body);
    ScriptedServer::start(vec![send(bytes)])
}

#[test]
fn large_body_to_path() {
    let body = pattern(LARGE, 21);
    let server = MockServer::start();
    serve(&server, &body);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("large.bin");

    let info = client(&server.url("/api"))
        .download(FILE_ID)
        .to_path(&out, IfExists::Fail)
        .unwrap();

    assert_eq!(info.size, LARGE as u64, "size");
    let saved = std::fs::read(&out).unwrap();
    assert_eq!(saved.len(), LARGE, "saved length");
    assert!(saved == body, "saved bytes differ from the body");
    assert_entries(dir.path(), &["large.bin"]);
}

#[test]
fn large_body_to_vec() {
    let body = pattern(LARGE, 22);
    let server = MockServer::start();
    serve(&server, &body);

    let (received, info) = client(&server.url("/api"))
        .download(FILE_ID)
        .to_vec(LARGE as u64)
        .unwrap();

    assert_eq!(info.size, LARGE as u64, "size");
    assert_eq!(received.len(), LARGE, "received length");
    assert!(received == body, "received bytes differ from the body");
}

#[test]
fn large_unsized_body_to_vec() {
    let body = pattern(LARGE, 23);
    let server = serve_unsized(&body);

    let (received, _) = client(&server.url("/api"))
        .download(FILE_ID)
        .to_vec(u64::MAX)
        .unwrap();

    assert_eq!(received.len(), LARGE, "received length");
    assert!(received == body, "received bytes differ from the body");
}

#[test]
fn large_body_to_slice() {
    let body = pattern(LARGE, 24);
    let server = MockServer::start();
    serve(&server, &body);
    let mut buffer = vec![0u8; LARGE + 100];

    let info = client(&server.url("/api"))
        .download(FILE_ID)
        .to_slice(&mut buffer)
        .unwrap();

    assert_eq!(info.size, LARGE as u64, "size");
    assert!(buffer[..LARGE] == body[..], "received bytes differ from the body");
    assert!(
        buffer[LARGE..].iter().all(|&b| b == 0),
        "bytes past the body changed"
    );
}

#[test]
fn max_size_with_length() {
    let server = MockServer::start();
    serve(&server, &[1u8; 2000]);
    let client = client(&server.url("/api"));
    let dir = tempfile::tempdir().unwrap();
    let mut written = Vec::new();

    let err = client
        .download(FILE_ID)
        .max_size(1999)
        .to_writer(&mut written)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    assert!(
        matches!(
            err,
            Error::TooLarge {
                limit: 1999,
                size: Some(2000),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(written.is_empty(), "a declared oversize body reached the writer");

    let err = client
        .download(FILE_ID)
        .max_size(1999)
        .to_folder(dir.path(), NameConflict::Unique)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge, "folder: {err}");
    assert_entries(dir.path(), &[]);

    let (received, _) = client.download(FILE_ID).max_size(2000).to_vec(u64::MAX).unwrap();
    assert_eq!(received.len(), 2000, "a body of exactly the maximum is accepted");
}

#[test]
fn max_size_without_length() {
    let body = pattern(5000, 25);
    let server = serve_unsized(&body);
    let mut written = Vec::new();

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .max_size(4096)
        .to_writer(&mut written)
        .unwrap_err();

    assert!(
        matches!(
            err,
            Error::TooLarge {
                limit: 4096,
                size: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        written.len() <= 4096,
        "{} bytes passed the maximum of 4096",
        written.len()
    );
    assert_eq!(written, body[..written.len()], "bytes before the limit");
}

#[test]
fn max_size_exact_without_length() {
    let body = pattern(4096, 26);
    let server = serve_unsized(&body);

    let (received, _) = client(&server.url("/api"))
        .download(FILE_ID)
        .max_size(4096)
        .to_vec(u64::MAX)
        .unwrap();

    assert_eq!(received, body, "a body of exactly the maximum is accepted");
}

#[test]
fn vec_max_without_length() {
    let body = pattern(3000, 27);
    let server = serve_unsized(&body);

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_vec(2999)
        .unwrap_err();

    assert!(
        matches!(
            err,
            Error::TooLarge {
                limit: 2999,
                size: None,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn vec_uses_smaller_maximum() {
    let server = MockServer::start();
    serve(&server, &[2u8; 500]);
    let client = client(&server.url("/api"));

    let err = client.download(FILE_ID).max_size(100).to_vec(1000).unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit: 100, .. }),
        "max_size below to_vec's: {err:?}"
    );

    let err = client.download(FILE_ID).max_size(1000).to_vec(100).unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { limit: 100, .. }),
        "to_vec's below max_size: {err:?}"
    );
}

#[test]
fn buffer_too_small_declared() {
    let server = MockServer::start();
    serve(&server, &pattern(1000, 28));
    let mut backing = vec![0xAAu8; 1100];

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_slice(&mut backing[..999])
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::BufferTooSmall, "{err}");
    assert!(
        matches!(
            err,
            Error::BufferTooSmall {
                capacity: 999,
                needed: Some(1000),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.needed_size(), Some(1000), "needed_size");
    assert!(
        err.to_string().contains("1000"),
        "message gives the needed size: {err}"
    );
    assert!(
        backing[999..].iter().all(|&b| b == 0xAA),
        "bytes past the slice changed"
    );
}

#[test]
fn buffer_too_small_undeclared() {
    let body = pattern(1000, 29);
    let server = serve_unsized(&body);
    let mut backing = vec![0xAAu8; 1100];

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_slice(&mut backing[..999])
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::BufferTooSmall, "{err}");
    assert!(
        matches!(
            err,
            Error::BufferTooSmall {
                capacity: 999,
                needed: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.needed_size(), None, "needed_size");
    assert!(
        backing[999..].iter().all(|&b| b == 0xAA),
        "bytes past the slice changed"
    );
}

#[test]
fn buffer_exact_fit_undeclared() {
    let body = pattern(1000, 30);
    let server = serve_unsized(&body);
    let mut backing = vec![0xAAu8; 1100];

    let info = client(&server.url("/api"))
        .download(FILE_ID)
        .to_slice(&mut backing[..1000])
        .unwrap();

    assert_eq!(info.size, 1000, "size");
    assert_eq!(&backing[..1000], &body[..], "received bytes");
    assert!(
        backing[1000..].iter().all(|&b| b == 0xAA),
        "bytes past the slice changed"
    );
}

/// Checks a sequence of progress reports: 0 first, strictly increasing, and
/// the body's size last, each with `total`.
fn assert_progress(calls: &[(u64, Option<u64>)], size: u64, total: Option<u64>) {
    assert!(!calls.is_empty(), "progress was never reported");
    assert_eq!(
        calls[0].0,
        0,
        "the first report is 0 bytes: {:?}",
        &calls[..calls.len().min(5)]
    );
    for pair in calls.windows(2) {
        assert!(pair[1].0 > pair[0].0, "reports do not increase: {pair:?}");
    }
    assert_eq!(calls.last().unwrap().0, size, "the last report is the size");
    for call in calls {
        assert_eq!(call.1, total, "total in {call:?}");
    }
}

#[test]
fn progress_with_known_total() {
    let body = pattern(LARGE, 31);
    let server = MockServer::start();
    serve(&server, &body);
    let dir = tempfile::tempdir().unwrap();
    let mut calls = Vec::new();

    client(&server.url("/api"))
        .download(FILE_ID)
        .progress(|received, total| {
            calls.push((received, total));
            ControlFlow::Continue(())
        })
        .to_path(dir.path().join("out.bin"), IfExists::Fail)
        .unwrap();

    assert_progress(&calls, LARGE as u64, Some(LARGE as u64));
    assert!(
        calls.len() > 2,
        "an 11 MiB body is reported in parts: {} reports",
        calls.len()
    );
}

#[test]
fn progress_with_unknown_total() {
    let body = pattern(3_000_000, 32);
    let server = serve_unsized(&body);
    let mut calls = Vec::new();

    client(&server.url("/api"))
        .download(FILE_ID)
        .progress(|received, total| {
            calls.push((received, total));
            ControlFlow::Continue(())
        })
        .to_vec(u64::MAX)
        .unwrap();

    assert_progress(&calls, body.len() as u64, None);
}

#[test]
fn progress_for_slice() {
    let body = pattern(2_500_000, 33);
    let server = MockServer::start();
    serve(&server, &body);
    let mut buffer = vec![0u8; body.len()];
    let mut calls = Vec::new();

    client(&server.url("/api"))
        .download(FILE_ID)
        .progress(|received, total| {
            calls.push((received, total));
            ControlFlow::Continue(())
        })
        .to_slice(&mut buffer)
        .unwrap();

    assert_progress(&calls, body.len() as u64, Some(body.len() as u64));
}

#[test]
fn progress_for_empty_body() {
    let server = MockServer::start();
    serve(&server, b"");
    let mut calls = Vec::new();

    let (received, info) = client(&server.url("/api"))
        .download(FILE_ID)
        .progress(|received, total| {
            calls.push((received, total));
            ControlFlow::Continue(())
        })
        .to_vec(10)
        .unwrap();

    assert!(received.is_empty(), "body");
    assert_eq!(info.size, 0, "size");
    assert_eq!(calls, vec![(0, Some(0))], "reports for an empty body");
}

#[test]
fn cancel_at_start() {
    let server = MockServer::start();
    serve(&server, &pattern(100_000, 34));
    let client = client(&server.url("/api"));
    let dir = tempfile::tempdir().unwrap();
    let mut written = Vec::new();

    let err = client
        .download(FILE_ID)
        .progress(|_, _| ControlFlow::Break(()))
        .to_writer(&mut written)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AbortedByCallback, "writer: {err}");
    assert!(err.to_string().contains(FILE_ID), "message names the file: {err}");
    assert!(written.is_empty(), "bytes reached the writer after a cancel at 0");

    for sink in ["path", "folder"] {
        let download = client.download(FILE_ID).progress(|_, _| ControlFlow::Break(()));
        let err = match sink {
            "path" => download.to_path(dir.path().join("out.bin"), IfExists::Fail),
            _ => download.to_folder(dir.path(), NameConflict::Unique),
        }
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AbortedByCallback, "{sink}: {err}");
        assert_entries(dir.path(), &[]);
    }
}

#[test]
fn cancel_midway_leaves_nothing() {
    let body = pattern(LARGE, 35);
    let server = MockServer::start();
    serve(&server, &body);
    let client = client(&server.url("/api"));
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("large.bin");
    std::fs::write(&existing, b"keep").unwrap();

    for sink in ["path", "folder"] {
        let mut last = 0;
        let download = client.download(FILE_ID).progress(|received, _| {
            last = received;
            if received >= 4 * 1024 * 1024 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        let err = match sink {
            "path" => download.to_path(&existing, IfExists::Replace),
            _ => download.to_folder(dir.path(), NameConflict::Unique),
        }
        .unwrap_err();

        assert_eq!(err.kind(), ErrorKind::AbortedByCallback, "{sink}: {err}");
        assert!(
            last < LARGE as u64,
            "{sink}: the callback saw the whole body before the cancel"
        );
        assert_eq!(
            std::fs::read(&existing).unwrap(),
            b"keep",
            "{sink}: existing file changed"
        );
        assert_entries(dir.path(), &["large.bin"]);
    }
}

#[test]
fn cancel_stops_reporting() {
    let body = pattern(LARGE, 36);
    let server = MockServer::start();
    serve(&server, &body);
    let mut calls = 0;

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .progress(|received, _| {
            calls += 1;
            if received > 0 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .to_vec(u64::MAX)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::AbortedByCallback, "{err}");
    assert_eq!(calls, 2, "reports after the one that cancelled");
}
