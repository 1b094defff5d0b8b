//! Tests of the C API's log callback. They compile `tests/c/log_test.c`
//! against the shared library that `cargo test` built and run it against an
//! httpmock server on 127.0.0.1. The records it prints must show each
//! download's start, finish and failure with the file ID. Even at the most
//! verbose level, no record may show the token or the Authorization header.
//!
//! Needs `cc` on the PATH, and `valgrind` for the memory check
//! (`TALLYFY_TEST_VALGRIND=0` skips it).

mod native;

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Output;
use std::sync::OnceLock;

use httpmock::MockServer;

use native::{
    assert_case_passed, assert_valgrind_passed, build_dir, compile, extra_flags, valgrind, valgrind_skipped,
    wrapped_command, Api, C_COMPILER, TOKEN,
};

/// Returns the compiled test program, built once per test process.
fn program() -> &'static PathBuf {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        let program = build_dir("log-callback-tests").join("log_test");
        compile(
            &C_COMPILER,
            "tests/c/log_test.c",
            &program,
            &extra_flags("TALLYFY_TEST_CFLAGS"),
            &extra_flags("TALLYFY_TEST_LDFLAGS"),
        );
        program
    })
}

/// Runs one case, with `wrapper` (such as valgrind) in front when not empty.
fn run_case<S: AsRef<OsStr>>(case: &str, api: &Api, wrapper: &[S]) -> Output {
    wrapped_command(wrapper, program())
        .arg(case)
        .env("TALLYFY_TEST_BASE_URL", api.base_url())
        .output()
        .expect("running log_test")
}

/// Runs one case and asserts that it passed; returns its stdout.
fn pass_case(case: &str, api: &Api) -> String {
    let no_wrapper: [&str; 0] = [];
    let output = run_case(case, api, &no_wrapper);
    assert_case_passed("log_test", case, &output)
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
    if valgrind_skipped() {
        return;
    }
    let server = MockServer::start();
    let api = Api::new(&server);
    let output = run_case("trace", &api, &valgrind());
    assert_valgrind_passed("log_test", "trace", &output);
}
