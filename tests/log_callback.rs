//! Tests of the C API's log callback. They compile `tests/c/log_test.c`
//! against the shared library that `cargo test` built and run it against an
//! httpmock server on 127.0.0.1. The records it prints must show each
//! download's start, finish and failure with the file ID. Even at the most
//! verbose level, no record may show the token or the Authorization header.
//!
//! Needs `cc` on the PATH, and `valgrind` for the memory check
//! (`TALLYFY_TEST_VALGRIND=0` skips it).

mod native;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use httpmock::MockServer;

use native::{build_dir, command, extra_flags, library_dir, manifest_dir, run_build_step, text, Api, TOKEN};

/// Returns the compiled test program, built once per test process.
fn program() -> &'static PathBuf {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        let lib_dir = library_dir();
        let program = build_dir("log-callback-tests").join("log_test");
        run_build_step(
            Command::new("cc")
                .args([
                    "-std=c99",
                    "-Wall",
                    "-Wextra",
                    "-Werror",
                    "-pedantic",
                    "-g",
                    "-pthread",
                ])
                .arg(format!("-I{}", manifest_dir().join("include").display()))
                .args(extra_flags("TALLYFY_TEST_CFLAGS"))
                .arg("-o")
                .arg(&program)
                .arg(manifest_dir().join("tests/c/log_test.c"))
                .arg(format!("-L{}", lib_dir.display()))
                .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
                .arg("-ltallyfy_files")
                .args(extra_flags("TALLYFY_TEST_LDFLAGS")),
            "compiling tests/c/log_test.c",
        );
        program
    })
}

/// Runs one case, with `wrapper` (such as valgrind) in front when not empty.
fn run_case(case: &str, api: &Api, wrapper: &[&str]) -> Output {
    let mut command = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut command = command(first.as_ref());
            command.args(rest).arg(program());
            command
        }
        None => command(program()),
    };
    command
        .arg(case)
        .env("TALLYFY_TEST_BASE_URL", api.base_url())
        .output()
        .expect("running log_test")
}

/// Runs one case and asserts that it passed; returns its stdout.
fn pass_case(case: &str, api: &Api) -> String {
    let output = run_case(case, api, &[]);
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "log_test {case} failed ({}):\n{stdout}\n{}",
        output.status,
        text(&output.stderr)
    );
    assert!(
        stdout.lines().any(|line| line == format!("ok {case}")),
        "log_test {case} did not report success:\n{stdout}"
    );
    stdout
}

/// Returns the (level, message) of each "record LEVEL MESSAGE" line.
fn records(stdout: &str) -> Vec<(u32, String)> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("record "))
        .map(|rest| {
            let (level, message) = rest
                .split_once(' ')
                .expect("a record line has a level and a message");
            (level.parse().expect("the level is a number"), message.to_string())
        })
        .collect()
}

fn has_record(records: &[(u32, String)], level: u32, start: &str) -> bool {
    records
        .iter()
        .any(|(got, message)| *got == level && message.starts_with(start))
}

#[test]
fn log_records_at_trace_never_show_the_token() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let records = records(&pass_case("trace", &api));
    assert_eq!(api.pdf.calls(), 2, "the fixture was not downloaded twice");

    for (level, message) in &records {
        assert!(
            !message.contains(TOKEN),
            "a record contains the token: {level} {message}"
        );
        assert!(
            !message.to_ascii_lowercase().contains("authorization"),
            "a record mentions the Authorization header: {level} {message}"
        );
        assert!(
            !message.contains("Bearer"),
            "a record contains a bearer credential: {level} {message}"
        );
        assert!(
            !(*level == 5 && message.starts_with("ureq")),
            "a TRACE record of ureq, which dumps request bytes, reached the callback: {message}"
        );
    }

    assert!(
        has_record(&records, 4, "download pdf1: GET http://127.0.0.1:"),
        "no DEBUG record of the request start among {records:#?}"
    );
    assert!(
        has_record(&records, 3, "download pdf1: finished, 140429 bytes, status 200, "),
        "no INFO record of the finished download among {records:#?}"
    );
    assert!(
        has_record(&records, 2, "download missing1: failed after "),
        "no WARN record of the failed download among {records:#?}"
    );
    assert!(
        records
            .iter()
            .any(|(level, message)| *level == 4 && message.starts_with("ureq: ")),
        "no DEBUG record of the HTTP client among {records:#?}"
    );
}

#[test]
fn log_level_filters_records() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let stdout = pass_case("levels", &api);
    let count = |prefix: &str| -> usize {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .expect("log_test printed the count")
            .parse()
            .unwrap()
    };

    // INFO: the finished download and the failure; WARN: only the failure.
    assert_eq!(count("info "), 2, "records at the default level:\n{stdout}");
    assert_eq!(count("warn "), 1, "records at WARN:\n{stdout}");
}

#[test]
fn log_calls_from_inside_callback() {
    let server = MockServer::start();
    let api = Api::new(&server);
    pass_case("invalid", &api);
}

#[test]
fn log_callback_under_valgrind() {
    if std::env::var("TALLYFY_TEST_VALGRIND").as_deref() == Ok("0") {
        eprintln!("skipped: TALLYFY_TEST_VALGRIND=0");
        return;
    }
    let server = MockServer::start();
    let api = Api::new(&server);
    let suppressions = format!(
        "--suppressions={}",
        manifest_dir().join("tests/c/valgrind.supp").display()
    );
    let valgrind = [
        "valgrind",
        "--tool=memcheck",
        "--leak-check=full",
        "--show-leak-kinds=definite,possible",
        "--errors-for-leak-kinds=definite,possible",
        "--error-exitcode=99",
        &suppressions,
        "--quiet",
    ];
    let output = run_case("trace", &api, &valgrind);
    let stderr = text(&output.stderr);
    assert_ne!(
        output.status.code(),
        Some(99),
        "valgrind reported memory errors or leaks:\n{stderr}"
    );
    assert!(
        output.status.success(),
        "log_test trace failed under valgrind ({}); is valgrind installed?\n{stderr}",
        output.status
    );
}
