//! The request a download sends: its URL in each mode, its headers, the
//! organization it names, and the bytes it keeps exactly as sent.

mod common;

use common::*;
use httpmock::prelude::*;
use tallyfy_files::{ErrorKind, IfExists, Mode};

const DEFAULT_USER_AGENT: &str = concat!("tallyfy-files/", env!("CARGO_PKG_VERSION"));

#[test]
fn attachment_sends_every_header() {
    let pdf = fixture("shared-mime-info-spec.pdf");
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(GET)
            .path(dl_path(FILE_ID))
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("x-tallyfy-client", "APIClient")
            .header("accept", "*/*")
            .header("accept-encoding", "identity")
            .header("user-agent", DEFAULT_USER_AGENT)
            .header_missing("range")
            .header_missing("cookie");
        then.status(200)
            .header("content-type", "application/octet-stream")
            .header("content-disposition", "attachment; filename=\"spec.pdf\"")
            .body(&pdf);
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("saved.pdf");

    let info = client(&server.url("/api"))
        .download(FILE_ID)
        .to_path(&out, IfExists::Fail)
        .expect("the download succeeds when every header matches");

    mock.assert_calls(1);
    assert_eq!(fs_read(&out), pdf, "saved bytes differ from the fixture");
    assert_eq!(
        info.file_name, "spec.pdf",
        "file_name of a path download is the server name made safe"
    );
    assert_eq!(
        info.server_file_name.as_deref(),
        Some("spec.pdf"),
        "server_file_name"
    );
    assert_eq!(
        info.content_type.as_deref(),
        Some("application/octet-stream"),
        "content_type"
    );
    assert_eq!(info.size, pdf.len() as u64, "size");
    assert_eq!(info.status, 200, "status");
    assert_eq!(info.path.as_deref(), Some(out.as_path()), "path");
}

#[test]
fn inline_mode_drops_dl_segment() {
    let png = fixture("build-unit-time.png");
    let server = MockServer::start();
    let inline = server.mock(|when, then| {
        when.method(GET)
            .path(format!("/api/organizations/{ORG}/file/{FILE_ID}"))
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("x-tallyfy-client", "APIClient");
        then.status(200).header("content-type", "image/png").body(&png);
    });
    let attachment = server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(500);
    });
    let client = client(&server.url("/api"));

    let (bytes, info) = client.download(FILE_ID).inline().to_vec(1 << 20).unwrap();
    assert_eq!(bytes, png, "inline bytes differ from the fixture");
    assert_eq!(info.content_type.as_deref(), Some("image/png"), "content_type");
    assert_eq!(
        info.file_name,
        format!("tallyfy-file-{FILE_ID}"),
        "a response without Content-Disposition gets the fallback name"
    );
    assert_eq!(info.server_file_name, None, "server_file_name without a header");

    let (bytes, _) = client
        .download(FILE_ID)
        .mode(Mode::Inline)
        .to_vec(1 << 20)
        .unwrap();
    assert_eq!(bytes, png, "mode(Mode::Inline) bytes differ");

    inline.assert_calls(2);
    attachment.assert_calls(0);
}

#[test]
fn attachment_is_default_mode() {
    let server = MockServer::start();
    let attachment = server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(200).body("a");
    });
    let client = client(&server.url("/api"));

    client.download(FILE_ID).to_vec(10).unwrap();
    client
        .download(FILE_ID)
        .mode(Mode::Attachment)
        .to_vec(10)
        .unwrap();

    attachment.assert_calls(2);
}

#[test]
fn org_override_changes_path() {
    let server = MockServer::start();
    let default_org = server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(200).body("default");
    });
    let other_org = server.mock(|when, then| {
        when.path(format!("/api/organizations/org2/file/{FILE_ID}/dl"));
        then.status(200).body("other");
    });

    let (bytes, _) = client(&server.url("/api"))
        .download(FILE_ID)
        .org_id("org2")
        .to_vec(100)
        .unwrap();

    assert_eq!(bytes, b"other", "the override organization served the file");
    other_org.assert_calls(1);
    default_org.assert_calls(0);
}

#[test]
fn org_override_without_client_org() {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.path(format!("/api/organizations/org2/file/{FILE_ID}/dl"));
        then.status(200).body("x");
    });
    let client = tallyfy_files::Client::builder()
        .token(TOKEN)
        .base_url(server.url("/api"))
        .build()
        .unwrap();

    let (bytes, _) = client.download(FILE_ID).org_id("org2").to_vec(10).unwrap();

    assert_eq!(bytes, b"x", "body");
    mock.assert_calls(1);
}

#[test]
fn missing_org_rejected_before_request() {
    let server = MockServer::start();
    let any = server.mock(|when, then| {
        when.any_request();
        then.status(200).body("x");
    });
    let client = tallyfy_files::Client::builder()
        .token(TOKEN)
        .base_url(server.url("/api"))
        .build()
        .unwrap();

    let err = client.download(FILE_ID).to_vec(10).unwrap_err();

    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(
        err.to_string().contains("organization"),
        "message names the setting: {err}"
    );
    any.assert_calls(0);
}

#[test]
fn custom_client_header_and_agent() {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.path(dl_path(FILE_ID))
            .header("x-tallyfy-client", "AcmeSync")
            .header("user-agent", "acme-sync/2.1");
        then.status(200).body("ok");
    });
    let client = builder(&server.url("/api"))
        .client_header("AcmeSync")
        .user_agent("acme-sync/2.1")
        .build()
        .unwrap();

    let (bytes, _) = client.download(FILE_ID).to_vec(10).unwrap();

    assert_eq!(bytes, b"ok", "body");
    mock.assert_calls(1);
}

#[test]
fn base_url_trailing_slash_ignored() {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(200).body("ok");
    });

    let client = client(&server.url("/api/"));
    client.download(FILE_ID).to_vec(10).unwrap();

    mock.assert_calls(1);
}

#[test]
fn base_url_without_path() {
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.path(format!("/organizations/{ORG}/file/{FILE_ID}/dl"));
        then.status(200).body("ok");
    });

    let client = client(&server.base_url());
    client.download(FILE_ID).to_vec(10).unwrap();

    mock.assert_calls(1);
}

/// A gzip stream of "hello\n" (made with `gzip -n`), sent with
/// `Content-Encoding: gzip`: the library must save the compressed bytes.
const GZIP_HELLO: &[u8] = &[
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xe7, 0x02,
    0x00, 0x20, 0x30, 0x3a, 0x36, 0x06, 0x00, 0x00, 0x00,
];

#[test]
fn encoded_body_kept_raw() {
    let server = MockServer::start();
    server.mock(|when, then| {
        when.path(dl_path("gz"));
        then.status(200)
            .header("content-type", "text/plain")
            .header("content-encoding", "gzip")
            .body(GZIP_HELLO);
    });
    server.mock(|when, then| {
        when.path(dl_path("latin1"));
        then.status(200)
            .header("content-type", "text/plain; charset=iso-8859-1")
            .body(b"caf\xe9\n");
    });
    let client = client(&server.url("/api"));

    let (gzip, _) = client.download("gz").to_vec(1000).unwrap();
    assert_eq!(gzip, GZIP_HELLO, "a gzip body is saved compressed, byte for byte");

    let (latin1, _) = client.download("latin1").to_vec(1000).unwrap();
    assert_eq!(
        latin1, b"caf\xe9\n",
        "a latin-1 body is saved without charset conversion"
    );
}

#[test]
fn client_shared_across_threads() {
    let server = MockServer::start();
    let bodies: Vec<Vec<u8>> = (0..4).map(|i| pattern(50_000 + i, i as u64 + 1)).collect();
    for (i, body) in bodies.iter().enumerate() {
        server.mock(|when, then| {
            when.path(dl_path(&format!("file{i}")));
            then.status(200).body(body);
        });
    }
    let client = client(&server.url("/api"));

    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let client = client.clone();
                scope.spawn(move || client.download(&format!("file{i}")).to_vec(1 << 20).unwrap().0)
            })
            .collect();
        for (i, handle) in handles.into_iter().enumerate() {
            assert_eq!(
                handle.join().unwrap(),
                bodies[i],
                "thread {i} got the wrong bytes"
            );
        }
    });
}

#[test]
fn client_debug_hides_token() {
    let client = client("http://127.0.0.1:9");
    let shown = format!("{client:?}");
    assert!(!shown.contains(TOKEN), "Client Debug shows the token: {shown}");

    let download = client.download(FILE_ID).org_id("org2");
    let shown = format!("{download:?}");
    assert!(!shown.contains(TOKEN), "Download Debug shows the token: {shown}");

    let builder = builder("http://127.0.0.1:9");
    let shown = format!("{builder:?}");
    assert!(
        !shown.contains(TOKEN),
        "ClientBuilder Debug shows the token: {shown}"
    );
}

fn fs_read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}
