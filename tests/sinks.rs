//! Each sink delivers the exact bytes with the right file info, and a failed
//! download leaves an existing destination byte-for-byte unchanged and no
//! temporary file behind.

mod common;

use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Duration;

use common::*;
use httpmock::prelude::*;
use tallyfy_files::{Download, Error, ErrorKind, FileInfo, IfExists, NameConflict};

/// Starts a mock that serves `body` as `report.pdf` for [`FILE_ID`].
fn serve_report<'a>(server: &'a MockServer, body: &[u8]) -> httpmock::Mock<'a> {
    server.mock(|when, then| {
        when.method(GET).path(dl_path(FILE_ID));
        then.status(200)
            .header("content-type", "application/pdf")
            .header("content-disposition", "attachment; filename=\"report.pdf\"")
            .body(body);
    })
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn path_creates_new_file() {
    let body = fixture("f3.jpg");
    let server = MockServer::start();
    let mock = serve_report(&server, &body);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("photo.jpg");

    let info = client(&server.url("/api"))
        .download(FILE_ID)
        .to_path(&out, IfExists::Fail)
        .unwrap();

    mock.assert_calls(1);
    assert_eq!(read(&out), body, "saved bytes");
    assert_entries(dir.path(), &["photo.jpg"]);
    assert_eq!(
        info.file_name, "report.pdf",
        "file_name is the server name made safe"
    );
    assert_eq!(
        info.server_file_name.as_deref(),
        Some("report.pdf"),
        "server_file_name"
    );
    assert_eq!(
        info.content_type.as_deref(),
        Some("application/pdf"),
        "content_type"
    );
    assert_eq!(info.size, body.len() as u64, "size");
    assert_eq!(info.status, 200, "status");
    assert_eq!(info.path.as_deref(), Some(out.as_path()), "path");
}

#[test]
fn path_fail_keeps_existing() {
    let server = MockServer::start();
    let mock = serve_report(&server, b"new bytes");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.pdf");
    std::fs::write(&out, b"old bytes").unwrap();

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_path(&out, IfExists::Fail)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::DestinationExists, "{err}");
    assert!(
        matches!(&err, Error::DestinationExists { path } if path == &out),
        "{err:?}"
    );
    mock.assert_calls(0);
    assert_eq!(read(&out), b"old bytes", "existing file changed");
    assert_entries(dir.path(), &["report.pdf"]);
}

#[test]
fn path_replace_overwrites() {
    let body = pattern(300_000, 7);
    let server = MockServer::start();
    let mock = serve_report(&server, &body);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.pdf");
    std::fs::write(&out, b"old bytes that are replaced").unwrap();

    let info = client(&server.url("/api"))
        .download(FILE_ID)
        .to_path(&out, IfExists::Replace)
        .unwrap();

    mock.assert_calls(1);
    assert_eq!(read(&out), body, "replaced bytes");
    assert_eq!(info.size, body.len() as u64, "size");
    assert_entries(dir.path(), &["report.pdf"]);
}

#[test]
fn path_missing_folder_rejected() {
    let server = MockServer::start();
    let mock = serve_report(&server, b"x");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("missing").join("report.pdf");

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_path(&out, IfExists::Replace)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    mock.assert_calls(0);
    assert_entries(dir.path(), &[]);
}

#[test]
fn path_that_is_folder_rejected() {
    let server = MockServer::start();
    let mock = serve_report(&server, b"x");
    let dir = tempfile::tempdir().unwrap();

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_path(dir.path(), IfExists::Replace)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    mock.assert_calls(0);
    assert_entries(dir.path(), &[]);
}

#[test]
fn folder_uses_server_name() {
    let body = fixture("shared-mime-info-spec.pdf");
    let server = MockServer::start();
    serve_report(&server, &body);
    let dir = tempfile::tempdir().unwrap();

    let info = client(&server.url("/api"))
        .download(FILE_ID)
        .to_folder(dir.path(), NameConflict::Fail)
        .unwrap();

    let saved = dir.path().join("report.pdf");
    assert_eq!(read(&saved), body, "saved bytes");
    assert_entries(dir.path(), &["report.pdf"]);
    assert_eq!(info.file_name, "report.pdf", "file_name");
    assert_eq!(
        info.server_file_name.as_deref(),
        Some("report.pdf"),
        "server_file_name"
    );
    assert_eq!(
        info.content_type.as_deref(),
        Some("application/pdf"),
        "content_type"
    );
    assert_eq!(info.size, body.len() as u64, "size");
    assert_eq!(info.status, 200, "status");
    assert_eq!(info.path.as_deref(), Some(saved.as_path()), "path");
}

#[test]
fn folder_conflict_fails() {
    let server = MockServer::start();
    serve_report(&server, b"new bytes");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("report.pdf"), b"old bytes").unwrap();

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_folder(dir.path(), NameConflict::Fail)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::DestinationExists, "{err}");
    assert_eq!(
        read(&dir.path().join("report.pdf")),
        b"old bytes",
        "existing file changed"
    );
    assert_entries(dir.path(), &["report.pdf"]);
}

#[test]
fn folder_unique_numbers_names() {
    let server = MockServer::start();
    serve_report(&server, b"new bytes");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("report.pdf"), b"old bytes").unwrap();
    let client = client(&server.url("/api"));

    let first = client
        .download(FILE_ID)
        .to_folder(dir.path(), NameConflict::Unique)
        .unwrap();
    let second = client
        .download(FILE_ID)
        .to_folder(dir.path(), NameConflict::Unique)
        .unwrap();

    assert_eq!(first.file_name, "report (1).pdf", "first unique name");
    assert_eq!(second.file_name, "report (2).pdf", "second unique name");
    assert_eq!(
        first.server_file_name.as_deref(),
        Some("report.pdf"),
        "server_file_name stays as sent"
    );
    assert_eq!(
        first.path.as_deref(),
        Some(dir.path().join("report (1).pdf").as_path()),
        "first path"
    );
    assert_eq!(
        read(&dir.path().join("report.pdf")),
        b"old bytes",
        "existing file changed"
    );
    assert_eq!(
        read(&dir.path().join("report (1).pdf")),
        b"new bytes",
        "first copy"
    );
    assert_eq!(
        read(&dir.path().join("report (2).pdf")),
        b"new bytes",
        "second copy"
    );
    assert_entries(dir.path(), &["report (1).pdf", "report (2).pdf", "report.pdf"]);
}

#[test]
fn folder_missing_rejected() {
    let server = MockServer::start();
    let mock = serve_report(&server, b"x");
    let dir = tempfile::tempdir().unwrap();

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_folder(dir.path().join("missing"), NameConflict::Unique)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    mock.assert_calls(0);
    assert_entries(dir.path(), &[]);
}

#[test]
fn writer_receives_bytes() {
    let body = pattern(2_500_000, 3);
    let server = MockServer::start();
    serve_report(&server, &body);
    let mut out = Vec::new();

    let info = client(&server.url("/api"))
        .download(FILE_ID)
        .to_writer(&mut out)
        .unwrap();

    assert_eq!(out, body, "written bytes");
    assert_eq!(info.file_name, "report.pdf", "file_name");
    assert_eq!(
        info.server_file_name.as_deref(),
        Some("report.pdf"),
        "server_file_name"
    );
    assert_eq!(
        info.content_type.as_deref(),
        Some("application/pdf"),
        "content_type"
    );
    assert_eq!(info.size, body.len() as u64, "size");
    assert_eq!(info.status, 200, "status");
    assert_eq!(info.path, None, "a writer has no path");
}

/// A writer that accepts `room` bytes, then fails.
struct FailingWriter {
    room: usize,
    taken: Vec<u8>,
    flushed: bool,
}

impl Write for FailingWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.room == 0 {
            return Err(io::Error::other("disk quota exceeded"));
        }
        let count = data.len().min(self.room);
        self.taken.extend_from_slice(&data[..count]);
        self.room -= count;
        Ok(count)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flushed = true;
        Ok(())
    }
}

#[test]
fn writer_failure_is_write_error() {
    let body = pattern(100_000, 4);
    let server = MockServer::start();
    serve_report(&server, &body);
    let mut writer = FailingWriter {
        room: 1000,
        taken: Vec::new(),
        flushed: false,
    };

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_writer(&mut writer)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Write, "{err}");
    assert!(
        err.to_string().contains("disk quota exceeded"),
        "message keeps the cause: {err}"
    );
    assert_eq!(writer.taken, body[..1000], "bytes before the failure");
}

#[test]
fn writer_is_flushed() {
    let server = MockServer::start();
    serve_report(&server, b"abc");
    let mut writer = FailingWriter {
        room: 10,
        taken: Vec::new(),
        flushed: false,
    };

    client(&server.url("/api"))
        .download(FILE_ID)
        .to_writer(&mut writer)
        .unwrap();

    assert!(writer.flushed, "the writer was not flushed at the end");
    assert_eq!(writer.taken, b"abc", "written bytes");
}

#[test]
fn slice_leaves_rest_untouched() {
    let body = pattern(5000, 5);
    let server = MockServer::start();
    serve_report(&server, &body);
    let mut buffer = vec![0xAAu8; 8000];

    let info = client(&server.url("/api"))
        .download(FILE_ID)
        .to_slice(&mut buffer)
        .unwrap();

    assert_eq!(info.size, 5000, "size");
    assert_eq!(&buffer[..5000], &body[..], "received bytes");
    assert!(
        buffer[5000..].iter().all(|&b| b == 0xAA),
        "bytes past the body changed"
    );
    assert_eq!(
        info.server_file_name.as_deref(),
        Some("report.pdf"),
        "server_file_name"
    );
    assert_eq!(info.path, None, "a slice has no path");
}

#[test]
fn slice_exact_fit() {
    let body = pattern(4096, 6);
    let server = MockServer::start();
    serve_report(&server, &body);
    let mut backing = vec![0x55u8; 4096 + 16];

    let info = client(&server.url("/api"))
        .download(FILE_ID)
        .to_slice(&mut backing[..4096])
        .unwrap();

    assert_eq!(info.size, 4096, "size");
    assert_eq!(&backing[..4096], &body[..], "received bytes");
    assert!(
        backing[4096..].iter().all(|&b| b == 0x55),
        "bytes past the slice changed"
    );
}

#[test]
fn vec_returns_body() {
    let body = fixture("build-unit-time.png");
    let server = MockServer::start();
    serve_report(&server, &body);

    let (bytes, info) = client(&server.url("/api"))
        .download(FILE_ID)
        .to_vec(body.len() as u64)
        .unwrap();

    assert_eq!(bytes, body, "returned bytes");
    assert_eq!(info.size, body.len() as u64, "size");
    assert_eq!(info.file_name, "report.pdf", "file_name");
    assert_eq!(info.path, None, "a Vec has no path");
}

#[test]
fn vec_over_max_rejected() {
    let server = MockServer::start();
    serve_report(&server, &[7u8; 1001]);

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_vec(1000)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    assert!(
        matches!(
            err,
            Error::TooLarge {
                limit: 1000,
                size: Some(1001),
                ..
            }
        ),
        "{err:?}"
    );
}

/// The failures that every file sink must survive without a trace.
#[derive(Debug, Clone, Copy)]
enum Failure {
    NotFound,
    ServerError,
    Truncated,
    Aborted,
    TooLarge,
    RedirectLoop,
    Stalled,
}

const FAILURES: [(Failure, ErrorKind); 7] = [
    (Failure::NotFound, ErrorKind::NotFound),
    (Failure::ServerError, ErrorKind::HttpStatus),
    (Failure::Truncated, ErrorKind::Truncated),
    (Failure::Aborted, ErrorKind::AbortedByCallback),
    (Failure::TooLarge, ErrorKind::TooLarge),
    (Failure::RedirectLoop, ErrorKind::RedirectRefused),
    (Failure::Stalled, ErrorKind::Timeout),
];

/// Runs a download that fails in the way `failure` names, through `sink`. The server
/// names the file `keep.txt`, the name of the file the caller already has.
fn fail_with(failure: Failure, sink: impl FnOnce(Download<'_>) -> Result<FileInfo, Error>) -> Error {
    let disposition = "Content-Disposition: attachment; filename=\"keep.txt\"";
    let body = pattern(3 * 1024 * 1024, 11);
    let mock = MockServer::start();

    let scripted = match failure {
        Failure::Truncated => {
            let length = format!("Content-Length: {}", body.len());
            Some(ScriptedServer::start(vec![vec![
                Step::Send(head("200 OK", &[disposition, &length])),
                Step::Send(body[..1_500_000].to_vec()),
            ]]))
        }
        Failure::TooLarge => Some(ScriptedServer::start(vec![vec![
            Step::Send(head("200 OK", &[disposition])),
            Step::Send(body.clone()),
        ]])),
        Failure::Stalled => {
            let length = format!("Content-Length: {}", body.len());
            Some(ScriptedServer::start(vec![vec![
                Step::Send(head("200 OK", &[disposition, &length])),
                Step::Send(body[..200_000].to_vec()),
                Step::Hold,
            ]]))
        }
        _ => None,
    };

    mock.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        match failure {
            Failure::NotFound => {
                then.status(404)
                    .header("content-disposition", "attachment; filename=\"keep.txt\"")
                    .body(r#"{"error":true,"message":"Resource not found","code":"RESOURCE_NOT_FOUND"}"#);
            }
            Failure::ServerError => {
                then.status(500).body("<html>internal error</html>");
            }
            Failure::RedirectLoop => {
                then.status(302).header("location", dl_path(FILE_ID));
            }
            _ => {
                then.status(200)
                    .header("content-disposition", "attachment; filename=\"keep.txt\"")
                    .body(&body);
            }
        }
    });

    let base = match &scripted {
        Some(server) => server.url("/api"),
        None => mock.url("/api"),
    };
    let client = builder(&base)
        .stall_timeout(Some(Duration::from_millis(200)))
        .build()
        .unwrap();

    let mut download = client.download(FILE_ID);
    match failure {
        Failure::Aborted => {
            download = download.progress(|received, _| {
                if received > 1_000_000 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
        }
        Failure::TooLarge => download = download.max_size(2 * 1024 * 1024),
        _ => {}
    }

    match sink(download) {
        Ok(info) => panic!("{failure:?}: the download succeeded: {info:?}"),
        Err(err) => err,
    }
}

#[test]
fn path_failures_keep_existing() {
    for (failure, kind) in FAILURES {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("keep.txt");
        std::fs::write(&out, b"precious original").unwrap();

        let err = fail_with(failure, |download| download.to_path(&out, IfExists::Replace));

        assert_eq!(err.kind(), kind, "{failure:?}: {err}");
        assert_eq!(
            read(&out),
            b"precious original",
            "{failure:?}: existing file changed"
        );
        assert_entries(dir.path(), &["keep.txt"]);
    }
}

#[test]
fn path_failures_leave_nothing() {
    for (failure, kind) in FAILURES {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("new.txt");

        let err = fail_with(failure, |download| download.to_path(&out, IfExists::Fail));

        assert_eq!(err.kind(), kind, "{failure:?}: {err}");
        assert_entries(dir.path(), &[]);
    }
}

#[test]
fn folder_failures_keep_existing() {
    for conflict in [NameConflict::Unique, NameConflict::Fail] {
        for (failure, kind) in FAILURES {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("keep.txt"), b"precious original").unwrap();

            let err = fail_with(failure, |download| download.to_folder(dir.path(), conflict));

            // With NameConflict::Fail, a success status meets the taken name
            // before its body is read.
            let status_error = matches!(
                kind,
                ErrorKind::NotFound | ErrorKind::HttpStatus | ErrorKind::RedirectRefused
            );
            let expected = match conflict {
                NameConflict::Fail if !status_error => ErrorKind::DestinationExists,
                _ => kind,
            };
            assert_eq!(err.kind(), expected, "{conflict:?} {failure:?}: {err}");
            assert_eq!(
                read(&dir.path().join("keep.txt")),
                b"precious original",
                "{conflict:?} {failure:?}: existing file changed"
            );
            assert_entries(dir.path(), &["keep.txt"]);
        }
    }
}

#[test]
fn folder_failures_leave_nothing() {
    for (failure, kind) in FAILURES {
        let dir = tempfile::tempdir().unwrap();

        let err = fail_with(failure, |download| {
            download.to_folder(dir.path(), NameConflict::Fail)
        });

        assert_eq!(err.kind(), kind, "{failure:?}: {err}");
        assert_entries(dir.path(), &[]);
    }
}

/// With syncing off, path and folder downloads still arrive whole and
/// leave no temporary file; only the flush to stable storage is skipped.
// NOTE: whether fsync ran is not observable from a test; this checks that
// the unsynced route still saves the exact bytes atomically.
#[test]
fn unsynced_saves_stay_exact() {
    let body = fixture("build-unit-time.png");
    let server = MockServer::start();
    let mock = serve_report(&server, &body);
    let client = builder(&server.url("/api")).sync_files(false).build().unwrap();
    let dir = tempfile::tempdir().unwrap();

    let to_path = client
        .download(FILE_ID)
        .to_path(dir.path().join("a.png"), IfExists::Fail)
        .unwrap();
    let to_folder = client
        .download(FILE_ID)
        .to_folder(dir.path(), NameConflict::Fail)
        .unwrap();

    mock.assert_calls(2);
    assert_eq!(read(&dir.path().join("a.png")), body, "bytes saved to a path");
    assert_eq!(
        read(&dir.path().join("report.pdf")),
        body,
        "bytes saved into a folder"
    );
    assert_eq!(to_path.size, body.len() as u64, "size of the path download");
    assert_eq!(to_folder.size, body.len() as u64, "size of the folder download");
    assert_entries(dir.path(), &["a.png", "report.pdf"]);
}
