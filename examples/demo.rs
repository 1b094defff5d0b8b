//! Downloads Tallyfy files into `./downloads/` with this library.
//!
//! Without credentials, the demo starts a local stand-in for Tallyfy's two
//! file endpoints on 127.0.0.1, serves real files from `tests/fixtures` and a
//! generated 12 MiB file with Tallyfy's headers, downloads each one and checks
//! it byte for byte against its original:
//!
//!     cargo run --example demo
//!
//! With credentials, it downloads the given file IDs from the real API:
//!
//!     TALLYFY_ACCESS_TOKEN=... TALLYFY_ORG_ID=... cargo run --example demo -- FILE_ID...
//!
//! `TALLYFY_BASE_URL` overrides the API base URL (default `https://go.tallyfy.com/api`).

use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use httpmock::prelude::*;
use tallyfy_files::{Client, Error, ErrorKind, FileInfo, NameConflict, RetryPolicy};

/// The folder the demo saves into, relative to the current folder.
const DOWNLOAD_DIR: &str = "downloads";

/// The organization and token the local stand-in expects.
const DEMO_ORG: &str = "demo-org";
const DEMO_TOKEN: &str = "demo-token";

/// One file served by the local stand-in.
struct DemoFile {
    id: &'static str,
    content_disposition: &'static str,
    mime_type: &'static str,
    /// The name the file must be saved under.
    expected_name: &'static str,
    bytes: Vec<u8>,
}

/// One line of the results table.
struct Row {
    name: String,
    mode: &'static str,
    content_type: String,
    size: String,
    result: String,
    ok: bool,
}

fn main() -> ExitCode {
    let token = std::env::var("TALLYFY_ACCESS_TOKEN")
        .ok()
        .filter(|v| !v.is_empty());
    let org_id = std::env::var("TALLYFY_ORG_ID").ok().filter(|v| !v.is_empty());
    let file_ids: Vec<String> = std::env::args().skip(1).collect();

    let outcome = match (token, org_id) {
        (Some(token), Some(org_id)) => {
            if file_ids.is_empty() {
                eprintln!("usage: cargo run --example demo -- FILE_ID...");
                eprintln!("(TALLYFY_ACCESS_TOKEN and TALLYFY_ORG_ID are set, so the demo uses the real API)");
                return ExitCode::from(2);
            }
            run_real(&token, &org_id, &file_ids)
        }
        _ => run_local(),
    };

    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("demo failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Serves the fixtures from a local stand-in, downloads each and checks it.
fn run_local() -> Result<bool, Box<dyn std::error::Error>> {
    let files = demo_files();
    let server = MockServer::start();
    for file in &files {
        serve_file(&server, file);
    }
    serve_not_found(&server);

    println!(
        "No TALLYFY_ACCESS_TOKEN and TALLYFY_ORG_ID set: using a local stand-in API at {}",
        server.url("/api")
    );
    println!("Saving into ./{DOWNLOAD_DIR}/\n");

    let client = Client::builder()
        .token(DEMO_TOKEN)
        .org_id(DEMO_ORG)
        .base_url(server.url("/api"))
        .retry_policy(RetryPolicy::never())
        .build()?;
    std::fs::create_dir_all(DOWNLOAD_DIR)?;

    let mut rows = Vec::new();
    for file in &files {
        rows.push(download_attachment(&client, file));
        rows.push(download_inline(&client, file));
    }
    rows.push(download_missing(&client));

    print_table(&rows);
    let all_ok = rows.iter().all(|row| row.ok);
    if all_ok {
        println!("\nEvery file matched its original byte for byte.");
    } else {
        println!("\nSome downloads did not match; see the table above.");
    }
    Ok(all_ok)
}

/// Builds the files the stand-in serves: the three fixtures and a large generated file.
fn demo_files() -> Vec<DemoFile> {
    vec![
        DemoFile {
            id: "4f1c2d9e8a7b6c5d4e3f2a1b0c9d8e7f",
            content_disposition: "attachment; filename=\"shared-mime-info-spec.pdf\"",
            mime_type: "application/pdf",
            expected_name: "shared-mime-info-spec.pdf",
            bytes: include_bytes!("../tests/fixtures/shared-mime-info-spec.pdf").to_vec(),
        },
        DemoFile {
            id: "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
            content_disposition: "attachment; filename=\"build-unit-time.png\"",
            mime_type: "image/png",
            expected_name: "build-unit-time.png",
            bytes: include_bytes!("../tests/fixtures/build-unit-time.png").to_vec(),
        },
        DemoFile {
            id: "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e",
            // An ASCII fallback plus the real UTF-8 name, as RFC 6266 suggests.
            content_disposition: "attachment; filename=\"schema-f3-ete.jpg\"; filename*=UTF-8''sch%C3%A9ma-f3-%C3%A9t%C3%A9.jpg",
            mime_type: "image/jpeg",
            expected_name: "schéma-f3-été.jpg",
            bytes: include_bytes!("../tests/fixtures/f3.jpg").to_vec(),
        },
        DemoFile {
            id: "7e6d5c4b3a29180716253443526170ff",
            content_disposition: "attachment; filename=\"quarterly-export.bin\"",
            mime_type: "application/octet-stream",
            expected_name: "quarterly-export.bin",
            bytes: generated_bytes(12 * 1024 * 1024 + 12_345),
        },
    ]
}

/// Returns `len` pseudo-random bytes (xorshift64), the same on every run.
fn generated_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Serves `file` at both endpoints, only to requests with Tallyfy's two headers.
fn serve_file(server: &MockServer, file: &DemoFile) {
    let base = format!("/api/organizations/{DEMO_ORG}/file/{}", file.id);
    server.mock(|when, then| {
        when.method(GET)
            .path(format!("{base}/dl"))
            .header("authorization", format!("Bearer {DEMO_TOKEN}"))
            .header("x-tallyfy-client", "APIClient");
        then.status(200)
            .header("content-type", "application/octet-stream")
            .header("content-disposition", file.content_disposition)
            .body(&file.bytes);
    });
    server.mock(|when, then| {
        when.method(GET)
            .path(base.clone())
            .header("authorization", format!("Bearer {DEMO_TOKEN}"))
            .header("x-tallyfy-client", "APIClient");
        then.status(200)
            .header("content-type", file.mime_type)
            .header(
                "content-disposition",
                file.content_disposition.replacen("attachment", "inline", 1),
            )
            .body(&file.bytes);
    });
}

/// Serves a JSON 404 for any other file ID, as the API does for an unknown file.
fn serve_not_found(server: &MockServer) {
    server.mock(|when, then| {
        when.method(GET).path_includes("/file/");
        then.status(404)
            .header("content-type", "application/json")
            .header("x-request-id", "demo-request-1")
            .body(r#"{"error":true,"message":"Resource not found","code":"RESOURCE_NOT_FOUND"}"#);
    });
}

/// Downloads through the attachment endpoint into the download folder.
fn download_attachment(client: &Client, file: &DemoFile) -> Row {
    let show_progress = file.bytes.len() > 10 * 1024 * 1024;
    let mut download = client.download(file.id);
    if show_progress {
        download = download.progress(progress_bar(file.expected_name));
    }

    let started = Instant::now();
    let result = download.to_folder(DOWNLOAD_DIR, NameConflict::Replace);
    let elapsed = started.elapsed();

    match result {
        Ok(info) => {
            let saved = info.path.as_deref().map(std::fs::read);
            let verdict = match saved {
                Some(Ok(bytes)) if bytes == file.bytes && info.file_name == file.expected_name => {
                    format!("saved, identical ({} ms)", elapsed.as_millis())
                }
                Some(Ok(_)) if info.file_name != file.expected_name => {
                    format!("MISMATCH: saved as {:?}", info.file_name)
                }
                Some(Ok(_)) => "MISMATCH: bytes differ".to_string(),
                Some(Err(err)) => format!("cannot read back: {err}"),
                None => "no path returned".to_string(),
            };
            let ok = verdict.starts_with("saved");
            row_for(&info, "attachment", verdict, ok)
        }
        Err(err) => error_row(file.expected_name, "attachment", &err, false),
    }
}

/// Downloads through the inline endpoint into memory and compares.
fn download_inline(client: &Client, file: &DemoFile) -> Row {
    match client.download(file.id).inline().to_vec(64 * 1024 * 1024) {
        Ok((bytes, info)) => {
            let ok = bytes == file.bytes && info.content_type.as_deref() == Some(file.mime_type);
            let verdict = if ok { "in memory, identical" } else { "MISMATCH" };
            row_for(&info, "inline", verdict.to_string(), ok)
        }
        Err(err) => error_row(file.expected_name, "inline", &err, false),
    }
}

/// Shows how an API error reads: an unknown file ID gives a not-found error.
fn download_missing(client: &Client) -> Row {
    let id = "00000000000000000000000000000000";
    match client.download(id).to_folder(DOWNLOAD_DIR, NameConflict::Replace) {
        Ok(info) => row_for(&info, "attachment", "UNEXPECTED: downloaded".to_string(), false),
        Err(err) => {
            let expected = err.kind() == ErrorKind::NotFound;
            println!("An unknown file ID fails with this message:\n  {err}\n");
            error_row("(unknown file ID)", "attachment", &err, expected)
        }
    }
}

/// Downloads real files from the Tallyfy API into the download folder.
fn run_real(token: &str, org_id: &str, file_ids: &[String]) -> Result<bool, Box<dyn std::error::Error>> {
    let mut builder = Client::builder().token(token).org_id(org_id);
    if let Ok(base_url) = std::env::var("TALLYFY_BASE_URL") {
        if !base_url.is_empty() {
            builder = builder.base_url(base_url);
        }
    }
    let client = builder.build()?;
    println!(
        "Downloading {} file(s) from {} into ./{DOWNLOAD_DIR}/\n",
        file_ids.len(),
        client.base_url()
    );
    std::fs::create_dir_all(DOWNLOAD_DIR)?;

    let mut rows = Vec::new();
    for id in file_ids {
        let result = client
            .download(id)
            .progress(progress_bar(id))
            .to_folder(DOWNLOAD_DIR, NameConflict::Unique);
        rows.push(match result {
            Ok(info) => {
                let verdict = format!("saved as {}", info.path.as_deref().map(Path::display).unwrap());
                row_for(&info, "attachment", verdict, true)
            }
            Err(err) => {
                eprintln!("{id}: {err}");
                error_row(id, "attachment", &err, false)
            }
        });
    }
    print_table(&rows);
    Ok(rows.iter().all(|row| row.ok))
}

fn row_for(info: &FileInfo, mode: &'static str, result: String, ok: bool) -> Row {
    Row {
        name: info.file_name.clone(),
        mode,
        content_type: info.content_type.clone().unwrap_or_else(|| "-".to_string()),
        size: info.size.to_string(),
        result,
        ok,
    }
}

fn error_row(name: &str, mode: &'static str, err: &Error, ok: bool) -> Row {
    let status = err.http_status().map(|s| format!(" {s}")).unwrap_or_default();
    Row {
        name: name.to_string(),
        mode,
        content_type: "-".to_string(),
        size: "-".to_string(),
        result: format!("error: {:?}{status}", err.kind()),
        ok,
    }
}

/// Returns a progress callback that redraws one line on standard error.
fn progress_bar(label: &str) -> impl FnMut(u64, Option<u64>) -> ControlFlow<()> + '_ {
    let interactive = std::io::stderr().is_terminal();
    let mut last_percent = None;
    let mut last_quarter = None;
    move |received, total| {
        let percent = total.filter(|&t| t > 0).map(|t| received * 100 / t);
        if percent != last_percent {
            last_percent = percent;
            let mib = received as f64 / (1024.0 * 1024.0);
            let text = match (percent, total) {
                (Some(p), Some(t)) => {
                    format!("{label}: {p:3}% ({mib:.1} of {:.1} MiB)", t as f64 / 1048576.0)
                }
                _ => format!("{label}: {mib:.1} MiB"),
            };
            let done = percent == Some(100);
            if interactive {
                eprint!("\r{text}{}", if done { "\n" } else { "" });
            } else if percent.map(|p| p / 25) != last_quarter {
                // Without a terminal, print a line at each quarter only.
                last_quarter = percent.map(|p| p / 25);
                eprintln!("{text}");
            }
            let _ = std::io::stderr().flush();
        }
        ControlFlow::Continue(())
    }
}

fn print_table(rows: &[Row]) {
    let headers = ["file", "mode", "type", "bytes", "result"];
    let cells: Vec<[&str; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.name.as_str(),
                r.mode,
                r.content_type.as_str(),
                r.size.as_str(),
                r.result.as_str(),
            ]
        })
        .collect();

    let mut widths = headers.map(|h| h.chars().count());
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }

    let line = |cols: [&str; 5]| {
        let padded: Vec<String> = cols
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers);
    line(widths.map(|w| "-".repeat(w)).each_ref().map(String::as_str));
    for row in cells {
        line(row);
    }
}
