//! Tests of the C++ wrapper `include/tallyfy_files.hpp`. They compile
//! `tests/cpp/wrapper_test.cpp` with `-std=c++17 -Wall -Wextra -Werror
//! -pedantic` against the shared library that `cargo test` built, run each
//! of its cases against servers on 127.0.0.1, and check the files it leaves.
//!
//! `TALLYFY_TEST_CFLAGS` and `TALLYFY_TEST_LDFLAGS` add compiler and linker
//! flags, as for the C tests. Needs `c++` on the PATH.

mod native;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use httpmock::MockServer;

use native::{
    assert_case_passed, build_dir, command, compile, extra_flags, fixture_bytes, fixture_path, folder_names,
    manifest_dir, run_build_step, text, Api, ChunkedServer, TOKEN,
};

const WARNINGS: [&str; 4] = ["-Wall", "-Wextra", "-Werror", "-pedantic"];

/// Returns the compiled test program, built once per test process.
fn program() -> &'static PathBuf {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM.get_or_init(|| {
        let program = build_dir("cpp-wrapper-tests").join("wrapper_test");
        let compiler = [&["c++", "-std=c++17"][..], &WARNINGS, &["-g", "-pthread"]].concat();
        compile(
            &compiler,
            "tests/cpp/wrapper_test.cpp",
            &program,
            &extra_flags("TALLYFY_TEST_CFLAGS"),
            &extra_flags("TALLYFY_TEST_LDFLAGS"),
        );
        program
    })
}

/// Runs one case with fresh servers and a fresh work folder, asserts that it
/// passed, and returns the folder.
fn pass_case(case: &str) -> tempfile::TempDir {
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    let workdir = tempfile::tempdir().expect("creating a work folder");

    let output: Output = command(program())
        .arg(case)
        .env("TALLYFY_TEST_BASE_URL", api.base_url())
        .env("TALLYFY_TEST_CHUNKED_URL", &chunked.url)
        .env("TALLYFY_TEST_FIXTURE", fixture_path())
        .env("TALLYFY_TEST_WORKDIR", workdir.path())
        .output()
        .expect("running wrapper_test");

    assert_case_passed("wrapper_test", case, &output);
    let stderr = text(&output.stderr);
    assert!(
        !stderr.contains(TOKEN),
        "wrapper_test {case} printed the token:\n{stderr}"
    );
    workdir
}

#[test]
fn cpp_download_to_path() {
    let workdir = pass_case("path");
    assert_eq!(folder_names(workdir.path()), ["report.pdf"], "unexpected files");
    let saved = std::fs::read(workdir.path().join("report.pdf")).unwrap();
    assert!(saved == fixture_bytes(), "report.pdf differs from the fixture");
}

#[test]
fn cpp_download_to_folder() {
    let workdir = pass_case("folder");
    assert_eq!(
        folder_names(workdir.path()),
        ["spec (1).pdf", "spec.pdf"],
        "unexpected files (a temporary file left behind?)"
    );
    let saved = std::fs::read(workdir.path().join("spec.pdf")).unwrap();
    assert!(saved == fixture_bytes(), "spec.pdf differs from the fixture");
}

#[test]
fn cpp_download_to_memory_and_callback() {
    let workdir = pass_case("memory");
    assert_eq!(
        folder_names(workdir.path()),
        Vec::<String>::new(),
        "a memory download wrote files"
    );
}

#[test]
fn cpp_error_carries_detail() {
    pass_case("error-detail");
}

#[test]
fn cpp_invalid_options_throw() {
    pass_case("options");
}

#[test]
fn cpp_client_moves() {
    pass_case("move");
}

#[test]
fn cpp_progress_function() {
    let workdir = pass_case("progress");
    assert_eq!(
        folder_names(workdir.path()),
        Vec::<String>::new(),
        "a stopped download left files"
    );
}

#[test]
fn cpp_callback_exception_is_rethrown() {
    let workdir = pass_case("callback-throws");
    assert_eq!(
        folder_names(workdir.path()),
        ["thrown.pdf"],
        "a download stopped by an exception left files"
    );
    let saved = std::fs::read(workdir.path().join("thrown.pdf")).unwrap();
    assert!(saved == fixture_bytes(), "thrown.pdf differs from the fixture");
}

#[test]
fn cpp_log_function() {
    pass_case("log");
}

/// The header takes other branches under C++20 (char8_t paths), so it must
/// compile there too, with every warning an error.
#[test]
fn cpp_header_compiles_as_cpp20() {
    let object = build_dir("cpp-wrapper-tests").join("wrapper_test_cpp20.o");
    run_build_step(
        Command::new("c++")
            .arg("-std=c++20")
            .args(WARNINGS)
            .arg(format!("-I{}", manifest_dir().join("include").display()))
            .arg("-c")
            .arg("-o")
            .arg(&object)
            .arg(manifest_dir().join("tests/cpp/wrapper_test.cpp")),
        "compiling tests/cpp/wrapper_test.cpp as C++20",
    );
}
