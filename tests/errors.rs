//! Rejected IDs, error statuses and their JSON detail, retries of transient
//! statuses, error bodies kept away from every sink, and the token kept out
//! of every message.

mod common;

use std::time::Duration;

use common::*;
use httpmock::prelude::*;
use tallyfy_files::{Client, Error, ErrorKind, IfExists, NameConflict};

/// IDs that could change the path, query or fragment of the request.
fn hostile_ids() -> Vec<String> {
    [
        "",
        ".",
        "..",
        "a/b",
        "../x",
        "..%2Fx",
        "a\\b",
        "a?b",
        "a#b",
        "a%2e",
        "a b",
        "a\tb",
        "a\nb",
        "a\r\nHost: x",
        "a\u{0}b",
        "\u{a0}x",
        "x\u{2028}",
    ]
    .iter()
    .map(|id| id.to_string())
    .chain([" ".repeat(3), "a".repeat(257)])
    .collect()
}

#[test]
fn file_id_rejected_before_request() {
    let server = MockServer::start();
    let any = server.mock(|when, then| {
        when.any_request();
        then.status(200).body("must not be fetched");
    });
    let client = client(&server.url("/api"));

    for id in hostile_ids() {
        let dir = tempfile::tempdir().unwrap();
        let mut written = Vec::new();
        let mut buffer = [0u8; 16];
        let results = [
            (
                "path",
                client
                    .download(&id)
                    .to_path(dir.path().join("out"), IfExists::Replace)
                    .err(),
            ),
            (
                "folder",
                client
                    .download(&id)
                    .to_folder(dir.path(), NameConflict::Unique)
                    .err(),
            ),
            ("writer", client.download(&id).to_writer(&mut written).err()),
            ("slice", client.download(&id).to_slice(&mut buffer).err()),
            ("vec", client.download(&id).to_vec(100).err()),
        ];

        for (sink, err) in results {
            let err = err.unwrap_or_else(|| panic!("{sink}: file ID {id:?} was accepted"));
            assert_eq!(
                err.kind(),
                ErrorKind::InvalidArgument,
                "{sink}: file ID {id:?}: {err}"
            );
            assert!(
                err.to_string().contains("file ID"),
                "{sink}: message names the value: {err}"
            );
        }
        assert_entries(dir.path(), &[]);
        assert!(written.is_empty(), "file ID {id:?}: the writer received bytes");
    }

    any.assert_calls(0);
}

#[test]
fn org_override_rejected_before_request() {
    let server = MockServer::start();
    let any = server.mock(|when, then| {
        when.any_request();
        then.status(200).body("must not be fetched");
    });
    let client = client(&server.url("/api"));

    for id in hostile_ids() {
        let err = client
            .download(FILE_ID)
            .org_id(id.as_str())
            .to_vec(100)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "org ID {id:?}: {err}");
        assert!(
            err.to_string().contains("organization ID"),
            "message names the value: {err}"
        );
    }

    any.assert_calls(0);
}

#[test]
fn client_org_rejected_at_build() {
    for id in hostile_ids() {
        let err = Client::builder()
            .token(TOKEN)
            .org_id(id.as_str())
            .base_url("http://127.0.0.1:9/api")
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "org ID {id:?}: {err}");
    }
}

#[test]
fn token_with_line_break_rejected() {
    for token in ["", "a b", "a\r\nX-Evil: 1", "tök"] {
        let err = Client::builder()
            .token(token)
            .base_url("http://127.0.0.1:9/api")
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "token {token:?}: {err}");
        if !token.is_empty() {
            assert!(
                !err.to_string().contains(token),
                "the message repeats the token: {err}"
            );
        }
    }
}

/// Serves an error status with the API's JSON body and an `X-Request-Id`.
fn serve_error<'a>(server: &'a MockServer, status: u16, code: &str, message: &str) -> httpmock::Mock<'a> {
    let body = serde_json::json!({ "error": true, "message": message, "code": code }).to_string();
    server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(status)
            .header("content-type", "application/json")
            .header("x-request-id", "req-42")
            .header("retry-after", "7")
            .body(body);
    })
}

#[test]
fn status_errors_carry_detail() {
    let cases = [
        (401, ErrorKind::Unauthorized, "UNAUTHENTICATED", "Token expired"),
        (403, ErrorKind::Forbidden, "FORBIDDEN", "No access to this file"),
        (
            404,
            ErrorKind::NotFound,
            "RESOURCE_NOT_FOUND",
            "Resource not found",
        ),
        (429, ErrorKind::RateLimited, "TOO_MANY_REQUESTS", "Slow down"),
        (500, ErrorKind::HttpStatus, "SERVER_ERROR", "Something broke"),
    ];

    for (status, kind, code, message) in cases {
        let server = MockServer::start();
        let mock = serve_error(&server, status, code, message);

        let err = client(&server.url("/api"))
            .download(FILE_ID)
            .to_vec(1000)
            .unwrap_err();

        mock.assert_calls(1);
        assert_eq!(err.kind(), kind, "{status}: {err}");
        assert_eq!(err.http_status(), Some(status), "{status}: http_status");
        let detail = err.api_detail().expect("a status error has API detail");
        assert_eq!(detail.status, status, "{status}: detail.status");
        assert_eq!(detail.code.as_deref(), Some(code), "{status}: detail.code");
        assert_eq!(
            detail.message.as_deref(),
            Some(message),
            "{status}: detail.message"
        );
        assert_eq!(
            detail.request_id.as_deref(),
            Some("req-42"),
            "{status}: detail.request_id"
        );

        let shown = err.to_string();
        for part in [FILE_ID, code, message, "req-42", &status.to_string()] {
            assert!(shown.contains(part), "{status}: message lacks {part:?}: {shown}");
        }
        if status == 429 {
            assert!(
                matches!(err, Error::RateLimited { retry_after: Some(wait), .. } if wait == Duration::from_secs(7)),
                "429: retry_after: {err:?}"
            );
        }
    }
}

#[test]
fn rate_limit_without_retry_after() {
    let server = MockServer::start();
    server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(429).body("{}");
    });

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_vec(10)
        .unwrap_err();

    assert!(
        matches!(
            err,
            Error::RateLimited {
                retry_after: None,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn rate_limit_with_date_retry_after() {
    let server = MockServer::start();
    server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(429)
            .header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")
            .body("{}");
    });

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_vec(10)
        .unwrap_err();

    assert!(
        matches!(err, Error::RateLimited { retry_after: Some(wait), .. } if wait == Duration::ZERO),
        "a date in the past means no wait: {err:?}"
    );
}

#[test]
fn non_json_error_body() {
    let server = MockServer::start();
    server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(502)
            .header("content-type", "text/html")
            .body("<html><body>Bad gateway</body></html>");
    });

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_vec(10)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::HttpStatus, "{err}");
    assert_eq!(err.http_status(), Some(502), "http_status");
    let detail = err.api_detail().unwrap();
    assert_eq!(detail.code, None, "code of an HTML body");
    assert_eq!(detail.message, None, "message of an HTML body");
    assert_eq!(detail.request_id, None, "request_id without the header");
}

#[test]
fn huge_error_body_not_read() {
    let server = MockServer::start();
    let mut body = br#"{"error":true,"code":"NOPE","message":""#.to_vec();
    body.extend(std::iter::repeat_n(b'x', 4 * 1024 * 1024));
    body.extend_from_slice(br#""}"#);
    server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(404).body(&body);
    });
    let mut written = Vec::new();

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_writer(&mut written)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(
        err.api_detail().unwrap().code,
        None,
        "a body cut at 64 KiB is not parsed"
    );
    assert!(
        err.to_string().len() < 4096,
        "the message is short: {} bytes",
        err.to_string().len()
    );
    assert!(written.is_empty(), "the error body reached the writer");
}

#[test]
fn error_body_never_reaches_sink() {
    let secret = "ERROR BODY MUST NOT BE SAVED";
    let server = MockServer::start();
    server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(404)
            .header("content-type", "application/octet-stream")
            .header("content-length", secret.len().to_string())
            .header("content-disposition", "attachment; filename=\"error.txt\"")
            .body(secret);
    });
    let client = client(&server.url("/api"));
    let dir = tempfile::tempdir().unwrap();

    let err = client
        .download(FILE_ID)
        .to_path(dir.path().join("out.txt"), IfExists::Replace)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "path: {err}");
    assert_entries(dir.path(), &[]);

    let err = client
        .download(FILE_ID)
        .to_folder(dir.path(), NameConflict::Unique)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "folder: {err}");
    assert_entries(dir.path(), &[]);

    let mut written = Vec::new();
    let err = client.download(FILE_ID).to_writer(&mut written).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "writer: {err}");
    assert!(
        written.is_empty(),
        "the writer received {:?}",
        String::from_utf8_lossy(&written)
    );

    let mut buffer = [0xAAu8; 64];
    let err = client.download(FILE_ID).to_slice(&mut buffer).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "slice: {err}");
    assert!(buffer.iter().all(|&b| b == 0xAA), "the slice was written");

    let err = client.download(FILE_ID).to_vec(1000).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "vec: {err}");

    let mut progress_calls = 0;
    let err = client
        .download(FILE_ID)
        .progress(|_, _| {
            progress_calls += 1;
            std::ops::ControlFlow::Continue(())
        })
        .to_vec(1000)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "progress: {err}");
    assert_eq!(progress_calls, 0, "progress was reported for an error body");
}

#[test]
fn echoed_token_scrubbed() {
    for status in [401, 403, 404, 429, 500, 503] {
        let server = MockServer::start();
        let body = serde_json::json!({
            "error": true,
            "message": format!("token {TOKEN} is not valid"),
            "code": format!("BAD_{TOKEN}"),
        })
        .to_string();
        server.mock(|when, then| {
            when.path(dl_path(FILE_ID));
            then.status(status)
                .header("x-request-id", format!("id-{TOKEN}"))
                .body(body);
        });

        let err = client(&server.url("/api"))
            .download(FILE_ID)
            .to_vec(10)
            .unwrap_err();

        assert_eq!(err.http_status(), Some(status), "{err}");
        assert_no_token(&err);
        let detail = err.api_detail().unwrap();
        assert!(
            detail.message.as_deref().is_some_and(|m| m.starts_with("token ")),
            "{status}: the rest of the message is kept: {detail:?}"
        );
        for field in [&detail.message, &detail.code, &detail.request_id] {
            assert!(
                !field.as_deref().unwrap_or("").contains(TOKEN),
                "{status}: a detail field shows the token: {detail:?}"
            );
        }
    }
}

#[test]
fn transient_status_retried() {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(503).body("busy");
    });
    let client = builder(&server.url("/api"))
        .retry_policy(quick_retries(3))
        .build()
        .unwrap();

    let err = client.download(FILE_ID).to_vec(10).unwrap_err();

    assert_eq!(err.http_status(), Some(503), "{err}");
    mock.assert_calls(3);
}

#[test]
fn permanent_status_not_retried() {
    for status in [400, 401, 403, 404, 500] {
        let server = MockServer::start();
        let mock = server.mock(|when, then| {
            when.path(dl_path(FILE_ID));
            then.status(status).body("{}");
        });
        let client = builder(&server.url("/api"))
            .retry_policy(quick_retries(4))
            .build()
            .unwrap();

        let err = client.download(FILE_ID).to_vec(10).unwrap_err();

        assert_eq!(err.http_status(), Some(status), "{err}");
        mock.assert_calls(1);
    }
}

#[test]
fn rate_limit_waits_retry_after() {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(429).header("retry-after", "0").body("{}");
    });
    let client = builder(&server.url("/api"))
        .retry_policy(quick_retries(2))
        .build()
        .unwrap();

    let err = client.download(FILE_ID).to_vec(10).unwrap_err();

    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    mock.assert_calls(2);
}

#[test]
fn long_retry_after_fails_at_once() {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(429).header("retry-after", "3600").body("{}");
    });
    let client = builder(&server.url("/api"))
        .retry_policy(quick_retries(4))
        .build()
        .unwrap();

    let err = client.download(FILE_ID).to_vec(10).unwrap_err();

    assert!(
        matches!(err, Error::RateLimited { retry_after: Some(wait), .. } if wait == Duration::from_secs(3600)),
        "{err:?}"
    );
    mock.assert_calls(1);
}

#[test]
fn connection_refused() {
    // Bind a port and free it again, so that nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.bin");
    std::fs::write(&out, b"keep").unwrap();

    let err = client(&format!("http://127.0.0.1:{port}/api"))
        .download(FILE_ID)
        .to_path(&out, IfExists::Replace)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.to_string().contains(FILE_ID), "message names the file: {err}");
    assert_no_token(&err);
    assert_eq!(std::fs::read(&out).unwrap(), b"keep", "existing file changed");
    assert_entries(dir.path(), &["out.bin"]);
}

#[test]
fn error_kinds_have_stable_numbers() {
    let expected = [
        (ErrorKind::InvalidArgument, 1),
        (ErrorKind::Unauthorized, 2),
        (ErrorKind::Forbidden, 3),
        (ErrorKind::NotFound, 4),
        (ErrorKind::RateLimited, 5),
        (ErrorKind::HttpStatus, 6),
        (ErrorKind::Timeout, 7),
        (ErrorKind::Connection, 8),
        (ErrorKind::Tls, 9),
        (ErrorKind::Truncated, 10),
        (ErrorKind::TooLarge, 11),
        (ErrorKind::BufferTooSmall, 12),
        (ErrorKind::DestinationExists, 13),
        (ErrorKind::Io, 14),
        (ErrorKind::AbortedByCallback, 15),
        (ErrorKind::RedirectRefused, 16),
        (ErrorKind::Write, 17),
        (ErrorKind::Protocol, 18),
    ];
    for (kind, number) in expected {
        assert_eq!(kind as i32, number, "{kind:?}");
    }
}
