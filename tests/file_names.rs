//! The folder sink names the file from `Content-Disposition`: every header
//! form gives the expected name, and every hostile name ends up as one file
//! inside the target folder, never outside it.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use httpmock::prelude::*;
use tallyfy_files::{ErrorKind, FileInfo, IfExists, NameConflict};

/// A target folder two levels below a temporary root, so that a file written
/// outside the target shows up in `outer` or `root`.
struct Layout {
    root: tempfile::TempDir,
    outer: PathBuf,
    target: PathBuf,
}

fn layout() -> Layout {
    let root = tempfile::tempdir().unwrap();
    let outer = root.path().join("outer");
    let target = outer.join("target");
    std::fs::create_dir_all(&target).unwrap();
    Layout { root, outer, target }
}

impl Layout {
    /// Asserts that the target contains exactly one file, `name`, with `body`,
    /// and that nothing appeared beside or above the target.
    fn assert_only(&self, name: &str, body: &[u8], case: &str) {
        assert_eq!(
            entries(&self.target),
            vec![name.to_string()],
            "{case}: target entries"
        );
        assert_eq!(
            std::fs::read(self.target.join(name)).unwrap(),
            body,
            "{case}: saved bytes"
        );
        assert_eq!(
            entries(&self.outer),
            vec!["target".to_string()],
            "{case}: outer entries"
        );
        assert_eq!(
            entries(self.root.path()),
            vec!["outer".to_string()],
            "{case}: root entries"
        );
    }
}

/// One header case: the `Content-Disposition` value sent (or none), the
/// name expected on disk, and the name expected in `server_file_name`.
struct Case {
    header: Option<String>,
    saved: String,
    server: Option<String>,
}

fn case(header: &str, saved: &str, server: &str) -> Case {
    Case {
        header: Some(header.to_string()),
        saved: saved.to_string(),
        server: Some(server.to_string()),
    }
}

/// Serves every case from one mock server, each under its own file ID, and
/// checks each download into a fresh layout.
fn check_cases(cases: &[Case]) {
    let server = MockServer::start();
    let body = pattern(1234, 99);
    for (index, case) in cases.iter().enumerate() {
        server.mock(|when, then| {
            when.path(dl_path(&format!("case{index}")));
            let then = then.status(200).body(&body);
            if let Some(header) = &case.header {
                then.header("content-disposition", header.as_str());
            }
        });
    }
    let client = client(&server.url("/api"));

    for (index, case) in cases.iter().enumerate() {
        let label = format!("header {:?}", case.header);
        let layout = layout();

        let info = client
            .download(&format!("case{index}"))
            .to_folder(&layout.target, NameConflict::Fail)
            .unwrap_or_else(|e| panic!("{label}: {e}"));

        assert_eq!(info.file_name, case.saved, "{label}: file_name");
        assert_eq!(info.server_file_name, case.server, "{label}: server_file_name");
        assert_eq!(
            info.path.as_deref(),
            Some(layout.target.join(&case.saved).as_path()),
            "{label}: path"
        );
        layout.assert_only(&case.saved, &body, &label);
    }
}

#[test]
fn disposition_forms() {
    check_cases(&[
        case("attachment; filename=\"report.pdf\"", "report.pdf", "report.pdf"),
        case("attachment; filename=plain.pdf", "plain.pdf", "plain.pdf"),
        case(
            "attachment; filename=my report final.pdf",
            "my report final.pdf",
            "my report final.pdf",
        ),
        case("attachment; FILENAME=\"upper.pdf\"", "upper.pdf", "upper.pdf"),
        case("Attachment; FileName=\"mixed.pdf\"", "mixed.pdf", "mixed.pdf"),
        case(
            "attachment; filename=\"semi;colon.pdf\"",
            "semi;colon.pdf",
            "semi;colon.pdf",
        ),
        case(
            "attachment; filename=\"say \\\"hi\\\".txt\"",
            "say \"hi\".txt",
            "say \"hi\".txt",
        ),
        case(
            "attachment; filename=\"trailing.pdf\";",
            "trailing.pdf",
            "trailing.pdf",
        ),
        case(
            "attachment; filename=unquoted-trailing.pdf;",
            "unquoted-trailing.pdf",
            "unquoted-trailing.pdf",
        ),
        case("inline; filename=\"inline.png\"", "inline.png", "inline.png"),
        case(
            "attachment; size=42; filename=\"after-param.pdf\"",
            "after-param.pdf",
            "after-param.pdf",
        ),
    ]);
}

#[test]
fn extended_filename_preferred() {
    check_cases(&[
        case(
            "attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf",
            "€ rates.pdf",
            "€ rates.pdf",
        ),
        case(
            "attachment; filename*=iso-8859-1''caf%E9.txt",
            "café.txt",
            "café.txt",
        ),
        case(
            "attachment; filename=\"fallback.pdf\"; filename*=UTF-8''na%C3%AFve.pdf",
            "naïve.pdf",
            "naïve.pdf",
        ),
        case(
            "attachment; filename*=UTF-8''%C3%A9t%C3%A9.pdf; filename=\"ete.pdf\"",
            "été.pdf",
            "été.pdf",
        ),
        case(
            "attachment; filename=\"Ete.pdf\"; FILENAME*=ISO-8859-1'fr'%C9t%E9.pdf",
            "Été.pdf",
            "Été.pdf",
        ),
        case(
            "attachment; filename*=UTF-8''%FF%FE.pdf; filename=\"not-utf8.pdf\"",
            "not-utf8.pdf",
            "not-utf8.pdf",
        ),
        case(
            "attachment; filename*=UTF-16''x.pdf; filename=\"other-charset.pdf\"",
            "other-charset.pdf",
            "other-charset.pdf",
        ),
        case(
            "attachment; filename*=UTF-8''bad%zz.pdf; filename=\"bad-escape.pdf\"",
            "bad-escape.pdf",
            "bad-escape.pdf",
        ),
    ]);
}

#[test]
fn missing_name_uses_file_id() {
    let fallback = |index: usize| format!("tallyfy-file-case{index}");
    check_cases(&[
        Case {
            header: None,
            saved: fallback(0),
            server: None,
        },
        Case {
            header: Some("attachment".to_string()),
            saved: fallback(1),
            server: None,
        },
        Case {
            header: Some("attachment; filename=\"\"".to_string()),
            saved: fallback(2),
            server: None,
        },
    ]);
}

#[test]
fn traversal_names_stay_inside() {
    check_cases(&[
        case("attachment; filename=\"../../x.txt\"", "x.txt", "../../x.txt"),
        case(
            "attachment; filename=../../../../etc/passwd",
            "passwd",
            "../../../../etc/passwd",
        ),
        case(
            "attachment; filename=..\\..\\win.ini",
            "win.ini",
            "..\\..\\win.ini",
        ),
        case(
            "attachment; filename=\"..\\\\..\\\\quoted.ini\"",
            "quoted.ini",
            "..\\..\\quoted.ini",
        ),
        case(
            "attachment; filename=\"C:\\\\Windows\\\\evil.ini\"",
            "evil.ini",
            "C:\\Windows\\evil.ini",
        ),
        case(
            "attachment; filename*=UTF-8''..%2F..%2Fencoded.txt",
            "encoded.txt",
            "../../encoded.txt",
        ),
        case(
            "attachment; filename*=UTF-8''..%5C..%5Cencoded-backslash.txt",
            "encoded-backslash.txt",
            "..\\..\\encoded-backslash.txt",
        ),
        case(
            "attachment; filename=\"dir/sub/deep.txt\"",
            "deep.txt",
            "dir/sub/deep.txt",
        ),
    ]);
}

#[test]
fn absolute_names_stay_inside() {
    // The absolute path points at the folder above the target, where the
    // test would see a file written outside.
    let probe = layout();
    let outside = probe.outer.join("evil.txt");
    let header = format!("attachment; filename=\"{}\"", outside.display());

    let server = MockServer::start();
    server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(200)
            .header("content-disposition", header.as_str())
            .body("absolute");
    });

    let info = client(&server.url("/api"))
        .download(FILE_ID)
        .to_folder(&probe.target, NameConflict::Fail)
        .unwrap();

    assert_eq!(info.file_name, "evil.txt", "file_name");
    assert_eq!(
        info.server_file_name.as_deref(),
        Some(outside.to_str().unwrap()),
        "server_file_name"
    );
    assert!(!outside.exists(), "a file was written outside the target");
    probe.assert_only("evil.txt", b"absolute", "absolute path");
}

#[test]
fn control_characters_dropped() {
    check_cases(&[
        case(
            "attachment; filename*=UTF-8''a%0Ab%00c%1B.txt",
            "abc.txt",
            "a\nb\0c\u{1b}.txt",
        ),
        case(
            "attachment; filename*=UTF-8''tab%09bell%07.log",
            "tabbell.log",
            "tab\tbell\u{7}.log",
        ),
        case(
            "attachment; filename*=UTF-8''cr%0D%0Alf.txt",
            "crlf.txt",
            "cr\r\nlf.txt",
        ),
    ]);
}

#[test]
fn unsafe_names_use_file_id() {
    let fallback = |index: usize| format!("tallyfy-file-case{index}");
    let headers = [
        ("attachment; filename=\"CON\"", "CON"),
        ("attachment; filename=\"con.txt\"", "con.txt"),
        ("attachment; filename=\"Lpt1.log\"", "Lpt1.log"),
        ("attachment; filename=\"nul\"", "nul"),
        ("attachment; filename=\"name.\"", "name."),
        ("attachment; filename=\"name \"", "name "),
        ("attachment; filename=\"..\"", ".."),
        ("attachment; filename=\".\"", "."),
        ("attachment; filename=\"a:b.txt\"", "a:b.txt"),
        ("attachment; filename=\"dir/\"", "dir/"),
        ("attachment; filename*=UTF-8''%00%01", "\0\u{1}"),
    ];
    let cases: Vec<Case> = headers
        .iter()
        .enumerate()
        .map(|(index, (header, server))| case(header, &fallback(index), server))
        .collect();
    check_cases(&cases);
}

#[test]
fn long_names_cut_to_255_bytes() {
    let ascii = format!("{}.pdf", "a".repeat(300));
    let ascii_cut = format!("{}.pdf", "a".repeat(251));
    let accented = format!("{}.pdf", "é".repeat(200));
    // 251 bytes are left for the stem, and a 2-byte 'é' cannot be split, so 125 fit.
    let accented_cut = format!("{}.pdf", "é".repeat(125));
    let encoded = "%C3%A9".repeat(200);
    let no_extension = "b".repeat(400);

    check_cases(&[
        case(&format!("attachment; filename=\"{ascii}\""), &ascii_cut, &ascii),
        case(
            &format!("attachment; filename*=UTF-8''{encoded}.pdf"),
            &accented_cut,
            &accented,
        ),
        case(
            &format!("attachment; filename={no_extension}"),
            &"b".repeat(255),
            &no_extension,
        ),
    ]);
}

/// Serves `header_bytes` as the raw `Content-Disposition` line, which may
/// hold bytes that are not ASCII, and downloads into a fresh layout.
fn download_raw_header(header_bytes: &[u8], body: &[u8]) -> (FileInfo, Layout) {
    let mut response = b"HTTP/1.1 200 OK\r\nContent-Disposition: ".to_vec();
    response.extend_from_slice(header_bytes);
    response.extend_from_slice(
        format!("\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).as_bytes(),
    );
    response.extend_from_slice(body);
    let server = ScriptedServer::start(vec![send(response)]);
    let layout = layout();

    let info = client(&server.url("/api"))
        .download(FILE_ID)
        .to_folder(&layout.target, NameConflict::Fail)
        .unwrap();
    (info, layout)
}

#[test]
fn raw_utf8_header_name() {
    let (info, layout) = download_raw_header("attachment; filename=\"résumé ✓.pdf\"".as_bytes(), b"cv");

    assert_eq!(info.file_name, "résumé ✓.pdf", "file_name");
    layout.assert_only("résumé ✓.pdf", b"cv", "raw UTF-8");
}

#[test]
fn raw_latin1_header_name() {
    let (info, layout) = download_raw_header(b"attachment; filename=\"caf\xe9 cr\xe8me.txt\"", b"menu");

    assert_eq!(info.file_name, "café crème.txt", "file_name");
    layout.assert_only("café crème.txt", b"menu", "raw ISO-8859-1");
}

#[test]
fn raw_bytes_with_traversal() {
    let (info, layout) = download_raw_header("attachment; filename=..\\..\\évil/../été.txt".as_bytes(), b"x");

    assert_eq!(info.file_name, "été.txt", "file_name");
    layout.assert_only("été.txt", b"x", "raw traversal");
}

#[test]
fn unique_hostile_names_stay_inside() {
    let server = MockServer::start();
    server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(200)
            .header("content-disposition", "attachment; filename=\"../../x.txt\"")
            .body("copy");
    });
    let client = client(&server.url("/api"));
    let layout = layout();

    for expected in ["x.txt", "x (1).txt", "x (2).txt"] {
        let info = client
            .download(FILE_ID)
            .to_folder(&layout.target, NameConflict::Unique)
            .unwrap();
        assert_eq!(info.file_name, expected, "unique name");
    }

    assert_entries(&layout.target, &["x (1).txt", "x (2).txt", "x.txt"]);
    assert_entries(&layout.outer, &["target"]);
    assert_entries(layout.root.path(), &["outer"]);
}

#[cfg(unix)]
#[test]
fn folder_symlink_never_followed() {
    let server = MockServer::start();
    server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(200)
            .header("content-disposition", "attachment; filename=\"report.pdf\"")
            .body("downloaded");
    });
    let client = client(&server.url("/api"));
    let layout = layout();
    let victim = layout.outer.join("victim.txt");
    std::fs::write(&victim, b"victim").unwrap();
    std::os::unix::fs::symlink(&victim, layout.target.join("report.pdf")).unwrap();

    let err = client
        .download(FILE_ID)
        .to_folder(&layout.target, NameConflict::Fail)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DestinationExists, "{err}");

    let info = client
        .download(FILE_ID)
        .to_folder(&layout.target, NameConflict::Unique)
        .unwrap();
    assert_eq!(info.file_name, "report (1).pdf", "unique name beside the link");

    assert_eq!(
        std::fs::read(&victim).unwrap(),
        b"victim",
        "the link target changed"
    );
    assert_entries(&layout.target, &["report (1).pdf", "report.pdf"]);
    assert_entries(&layout.outer, &["target", "victim.txt"]);
}

#[cfg(unix)]
#[test]
fn path_replace_replaces_symlink_itself() {
    let server = MockServer::start();
    server.mock(|when, then| {
        when.path(dl_path(FILE_ID));
        then.status(200).body("downloaded");
    });
    let layout = layout();
    let victim = layout.outer.join("victim.txt");
    std::fs::write(&victim, b"victim").unwrap();
    let link: &Path = &layout.target.join("out.txt");
    std::os::unix::fs::symlink(&victim, link).unwrap();

    client(&server.url("/api"))
        .download(FILE_ID)
        .to_path(link, IfExists::Replace)
        .unwrap();

    assert_eq!(
        std::fs::read(&victim).unwrap(),
        b"victim",
        "the link target changed"
    );
    assert!(
        !std::fs::symlink_metadata(link).unwrap().file_type().is_symlink(),
        "the destination is still a link"
    );
    assert_eq!(std::fs::read(link).unwrap(), b"downloaded", "saved bytes");
}
