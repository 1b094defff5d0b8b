//! Redirects: the token goes only to the original origin, an https→http
//! downgrade is refused, the number followed is bounded, and the file name
//! comes from the final response. HTTPS cases run against a TLS server on
//! 127.0.0.1 whose certificate a test CA signed.

mod common;

use common::*;
use httpmock::prelude::*;
use tallyfy_files::{Error, ErrorKind, IfExists, NameConflict};

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

#[test]
fn same_origin_keeps_token() {
    let server = MockServer::start();
    let redirect = server.mock(|when, then| {
        when.path(dl_path(FILE_ID)).header("authorization", bearer());
        then.status(302)
            .header("location", "/storage/blob?signature=abc")
            .header("content-disposition", "attachment; filename=\"redirect.txt\"");
    });
    let storage = server.mock(|when, then| {
        when.path("/storage/blob")
            .query_param("signature", "abc")
            .header("authorization", bearer())
            .header("x-tallyfy-client", "APIClient");
        then.status(200)
            .header("content-disposition", "attachment; filename=\"final.pdf\"")
            .body("stored bytes");
    });
    let dir = tempfile::tempdir().unwrap();

    let info = client(&server.url("/api"))
        .download(FILE_ID)
        .to_folder(dir.path(), NameConflict::Fail)
        .unwrap();

    redirect.assert_calls(1);
    storage.assert_calls(1);
    assert_eq!(
        info.file_name, "final.pdf",
        "the name comes from the final response"
    );
    assert_eq!(
        info.server_file_name.as_deref(),
        Some("final.pdf"),
        "server_file_name"
    );
    assert_eq!(
        std::fs::read(dir.path().join("final.pdf")).unwrap(),
        b"stored bytes",
        "saved bytes"
    );
    assert_entries(dir.path(), &["final.pdf"]);
}

#[test]
fn explicit_same_port_keeps_token() {
    let server = MockServer::start();
    server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(307).header("location", server.url("/storage/blob"));
    });
    let storage = server.mock(|when, then| {
        when.path("/storage/blob").header("authorization", bearer());
        then.status(200).body("ok");
    });

    let (bytes, _) = client(&server.url("/api")).download(FILE_ID).to_vec(10).unwrap();

    assert_eq!(bytes, b"ok", "body");
    storage.assert_calls(1);
}

#[test]
fn other_port_drops_token() {
    let api = MockServer::start();
    let storage = MockServer::start();
    assert_ne!(api.port(), storage.port(), "the two servers share a port");
    api.mock(|when, then| {
        when.path(dl_path(FILE_ID)).header("authorization", bearer());
        then.status(302).header("location", storage.url("/bucket/blob"));
    });
    let without_token = storage.mock(|when, then| {
        when.path("/bucket/blob").header_missing("authorization");
        then.status(200)
            .header("content-disposition", "attachment; filename=\"from-storage.bin\"")
            .body("storage bytes");
    });
    let with_token = storage.mock(|when, then| {
        when.path("/bucket/blob").header_exists("authorization");
        then.status(500).body("the token leaked");
    });

    let (bytes, info) = client(&api.url("/api")).download(FILE_ID).to_vec(100).unwrap();

    assert_eq!(bytes, b"storage bytes", "body");
    assert_eq!(
        info.file_name, "from-storage.bin",
        "the name comes from the final response"
    );
    without_token.assert_calls(1);
    with_token.assert_calls(0);
}

#[test]
fn every_redirect_status_followed() {
    for status in [301, 302, 303, 307, 308] {
        let server = MockServer::start();
        server.mock(|when, then| {
            when.path(dl_path(FILE_ID));
            then.status(status).header("location", "/moved");
        });
        let target = server.mock(|when, then| {
            when.method(GET).path("/moved");
            then.status(200).body("moved");
        });

        let (bytes, info) = client(&server.url("/api")).download(FILE_ID).to_vec(10).unwrap();

        assert_eq!(bytes, b"moved", "{status}: body");
        assert_eq!(info.status, 200, "{status}: final status");
        target.assert_calls(1);
    }
}

#[test]
fn redirect_loop_refused() {
    let server = MockServer::start();
    let looping = server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(302).header("location", dl_path(FILE_ID));
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.bin");
    std::fs::write(&out, b"keep").unwrap();

    let err = client(&server.url("/api"))
        .download(FILE_ID)
        .to_path(&out, IfExists::Replace)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::RedirectRefused, "{err}");
    // The first request and the 10 redirects that the default allows.
    looping.assert_calls(11);
    assert_eq!(std::fs::read(&out).unwrap(), b"keep", "existing file changed");
    assert_entries(dir.path(), &["out.bin"]);
}

/// Serves a chain of `hops` redirects ending at `/final`.
fn redirect_chain(server: &MockServer, hops: usize) -> httpmock::Mock<'_> {
    for hop in 0..hops {
        let from = if hop == 0 {
            dl_path(FILE_ID)
        } else {
            format!("/hop{hop}")
        };
        let to = if hop + 1 == hops {
            "/final".to_string()
        } else {
            format!("/hop{}", hop + 1)
        };
        server.mock(|when, then| {
            when.path(from);
            then.status(302).header("location", to);
        });
    }
    server.mock(|when, then| {
        when.path("/final");
        then.status(200).body("end of chain");
    })
}

#[test]
fn redirect_limit_enforced() {
    let server = MockServer::start();
    let last = redirect_chain(&server, 4);

    let err = builder(&server.url("/api"))
        .max_redirects(3)
        .build()
        .unwrap()
        .download(FILE_ID)
        .to_vec(100)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RedirectRefused, "{err}");
    assert!(
        err.to_string().contains("3 redirects"),
        "message names the limit: {err}"
    );
    last.assert_calls(0);

    let (bytes, _) = builder(&server.url("/api"))
        .max_redirects(4)
        .build()
        .unwrap()
        .download(FILE_ID)
        .to_vec(100)
        .unwrap();
    assert_eq!(
        bytes, b"end of chain",
        "four redirects are allowed by a limit of 4"
    );
    last.assert_calls(1);
}

#[test]
fn zero_redirects_refuses_any() {
    let server = MockServer::start();
    let last = redirect_chain(&server, 1);

    let err = builder(&server.url("/api"))
        .max_redirects(0)
        .build()
        .unwrap()
        .download(FILE_ID)
        .to_vec(100)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::RedirectRefused, "{err}");
    last.assert_calls(0);
}

#[test]
fn bad_locations_refused() {
    let locations = [
        None,
        Some("ftp://127.0.0.1/file"),
        Some("file:///etc/passwd"),
        Some("http://[::zz]/x"),
    ];
    for location in locations {
        let server = MockServer::start();
        let redirect = server.mock(|when, then| {
            when.path(dl_path(FILE_ID));
            let then = then.status(302);
            if let Some(location) = location {
                then.header("location", location);
            }
        });
        let mut written = Vec::new();

        let err = client(&server.url("/api"))
            .download(FILE_ID)
            .to_writer(&mut written)
            .unwrap_err();

        assert_eq!(
            err.kind(),
            ErrorKind::RedirectRefused,
            "location {location:?}: {err}"
        );
        assert!(
            written.is_empty(),
            "location {location:?}: the writer received bytes"
        );
        redirect.assert_calls(1);
    }
}

#[test]
fn redirect_to_error_status() {
    let api = MockServer::start();
    let storage = MockServer::start();
    api.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(302).header("location", storage.url("/gone"));
    });
    storage.mock(|when, then| {
        when.path("/gone");
        then.status(404)
            .header("x-request-id", "storage-7")
            .body(r#"{"error":true,"code":"NoSuchKey","message":"The key does not exist"}"#);
    });
    let mut written = Vec::new();

    let err = client(&api.url("/api"))
        .download(FILE_ID)
        .to_writer(&mut written)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(
        err.api_detail().unwrap().code.as_deref(),
        Some("NoSuchKey"),
        "code"
    );
    assert_eq!(
        err.api_detail().unwrap().request_id.as_deref(),
        Some("storage-7"),
        "request id"
    );
    assert!(written.is_empty(), "the error body reached the writer");
}

/// Returns a `302 Found` head that points at `location`.
fn found(location: &str) -> Reply {
    let location = format!("Location: {location}");
    send(head("302 Found", &[&location, "Content-Length: 0"]))
}

/// Returns a `200 OK` reply with `body` and a `Content-Disposition` name.
fn ok_file(name: &str, body: &[u8]) -> Reply {
    let disposition = format!("Content-Disposition: attachment; filename=\"{name}\"");
    let length = format!("Content-Length: {}", body.len());
    let mut bytes = head(
        "200 OK",
        &[&disposition, &length, "Content-Type: application/pdf"],
    );
    bytes.extend_from_slice(body);
    send(bytes)
}

#[test]
fn https_download_with_ca_file() {
    let ca = TestCa::new();
    let body = fixture("shared-mime-info-spec.pdf");
    let server = ScriptedServer::start_tls(&ca, vec![ok_file("spec.pdf", &body)]);
    let client = builder(&server.url("/api")).ca_file(&ca.ca_file).build().unwrap();

    let (bytes, info) = client.download(FILE_ID).to_vec(1 << 20).unwrap();

    assert_eq!(bytes, body, "bytes over TLS");
    assert_eq!(info.file_name, "spec.pdf", "file_name");
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "requests: {requests:?}");
    assert!(
        requests[0].starts_with(&format!("GET {} HTTP/1.1", dl_path(FILE_ID))),
        "{}",
        requests[0]
    );
    assert_eq!(
        request_header(&requests[0], "authorization"),
        Some(bearer()),
        "token over TLS"
    );
}

#[test]
fn untrusted_certificate_is_tls_error() {
    let ca = TestCa::new();
    let server = ScriptedServer::start_tls(&ca, vec![ok_file("x.pdf", b"x")]);
    // Without the test CA, the built-in roots reject the certificate.
    let client = client(&server.url("/api"));

    let err = client.download(FILE_ID).to_vec(10).unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert_no_token(&err);
    assert!(
        server.requests().is_empty(),
        "a request was sent over an untrusted connection"
    );
}

#[test]
fn https_downgrade_refused() {
    let ca = TestCa::new();
    let plain = MockServer::start();
    let downgraded = plain.mock(|when, then| {
        when.any_request();
        then.status(200).body("must not be fetched");
    });
    let secure = ScriptedServer::start_tls(&ca, vec![found(&plain.url("/storage/blob"))]);
    let client = builder(&secure.url("/api")).ca_file(&ca.ca_file).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("spec.pdf");
    std::fs::write(&out, b"keep").unwrap();

    let err = client
        .download(FILE_ID)
        .to_path(&out, IfExists::Replace)
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::RedirectRefused, "{err}");
    assert!(
        err.to_string().contains("https"),
        "message explains the downgrade: {err}"
    );
    downgraded.assert_calls(0);
    assert_eq!(secure.requests().len(), 1, "requests to the HTTPS server");
    assert_eq!(std::fs::read(&out).unwrap(), b"keep", "existing file changed");
    assert_entries(dir.path(), &["spec.pdf"]);
}

#[test]
fn downgrade_same_port_refused() {
    let ca = TestCa::new();
    // The location keeps host and port and changes only the scheme.
    let secure = ScriptedServer::start_tls_with(&ca, |port| {
        vec![
            found(&format!("http://127.0.0.1:{port}/storage/blob")),
            ok_file("plain.pdf", b"must not be fetched"),
        ]
    });
    let client = builder(&secure.url("/api")).ca_file(&ca.ca_file).build().unwrap();

    let err = client.download(FILE_ID).to_vec(100).unwrap_err();

    assert_eq!(err.kind(), ErrorKind::RedirectRefused, "{err}");
    assert_eq!(secure.requests().len(), 1, "requests after the refused redirect");
}

#[test]
fn https_same_origin_keeps_token() {
    let ca = TestCa::new();
    let server = ScriptedServer::start_tls(
        &ca,
        vec![found("/storage/blob"), ok_file("final.pdf", b"secure bytes")],
    );
    let client = builder(&server.url("/api")).ca_file(&ca.ca_file).build().unwrap();

    let (bytes, info) = client.download(FILE_ID).to_vec(100).unwrap();

    assert_eq!(bytes, b"secure bytes", "body");
    assert_eq!(info.file_name, "final.pdf", "file_name");
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "requests: {requests:?}");
    assert!(
        requests[1].starts_with("GET /storage/blob HTTP/1.1"),
        "{}",
        requests[1]
    );
    for request in &requests {
        assert_eq!(
            request_header(request, "authorization"),
            Some(bearer()),
            "{request}"
        );
    }
}

#[test]
fn https_other_port_drops_token() {
    let ca = TestCa::new();
    let storage = ScriptedServer::start_tls(&ca, vec![ok_file("stored.pdf", b"stored")]);
    let api = ScriptedServer::start_tls(&ca, vec![found(&storage.url("/bucket/blob"))]);
    let client = builder(&api.url("/api")).ca_file(&ca.ca_file).build().unwrap();

    let (bytes, _) = client.download(FILE_ID).to_vec(100).unwrap();

    assert_eq!(bytes, b"stored", "body");
    let api_requests = api.requests();
    let storage_requests = storage.requests();
    assert_eq!(
        request_header(&api_requests[0], "authorization"),
        Some(bearer()),
        "API request"
    );
    assert_eq!(
        storage_requests.len(),
        1,
        "storage requests: {storage_requests:?}"
    );
    assert_eq!(
        request_header(&storage_requests[0], "authorization"),
        None,
        "the token reached another origin"
    );
}

#[test]
fn https_upgrade_from_http_allowed() {
    let ca = TestCa::new();
    let secure = ScriptedServer::start_tls(&ca, vec![ok_file("up.pdf", b"upgraded")]);
    let plain = ScriptedServer::start(vec![found(&secure.url("/storage/blob"))]);
    let client = builder(&plain.url("/api")).ca_file(&ca.ca_file).build().unwrap();

    let (bytes, _) = client.download(FILE_ID).to_vec(100).unwrap();

    assert_eq!(bytes, b"upgraded", "body");
    let secure_requests = secure.requests();
    assert_eq!(
        request_header(&secure_requests[0], "authorization"),
        None,
        "a change of scheme is another origin"
    );
}

#[test]
fn token_in_location_not_shown() {
    let ca = TestCa::new();
    let locations = [
        format!("http://127.0.0.1:1/{TOKEN}?t={TOKEN}"),
        format!("http://[{TOKEN}]/x"),
    ];
    for location in locations {
        let secure = ScriptedServer::start_tls(&ca, vec![found(&location)]);
        let client = builder(&secure.url("/api")).ca_file(&ca.ca_file).build().unwrap();

        let err = client.download(FILE_ID).to_vec(10).unwrap_err();

        assert!(
            matches!(err, Error::RedirectRefused { .. }),
            "{location}: {err:?}"
        );
        assert_no_token(&err);
    }
}
