//! Tests of the C API from C and C++. They compile the C test program
//! `tests/c/api_test.c` and the examples in `examples/c/` against the shared
//! and static libraries that `cargo test` built. Then they run them against
//! servers on 127.0.0.1 and check exit codes, bytes and messages. The C test
//! program also runs under valgrind.
//!
//! The libraries are found next to this test executable, in
//! `target/<profile>/deps/`, where `cargo test` builds the crate's cdylib and
//! staticlib, so no recursive cargo call is needed. Compiled programs go to
//! `target/<profile>/deps/c-api-tests/`.
//!
//! Environment variables for other runs, such as with a sanitizer:
//! - `TALLYFY_TEST_CFLAGS`: extra compiler flags for the C and C++ code
//!   (for example `-fsanitize=address -fno-omit-frame-pointer`);
//! - `TALLYFY_TEST_LDFLAGS`: extra linker flags;
//! - `TALLYFY_TEST_VALGRIND=0`: skips the valgrind test, which cannot run
//!   a program built with AddressSanitizer.
//!
//! Needs `cc`, `c++`, `make` and `valgrind` on the PATH.

mod native;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

use httpmock::MockServer;

use native::{
    assert_case_passed, assert_valgrind_passed, build_dir, build_dir_for, command, compile, extra_flags,
    fixture_bytes, fixture_path, folder_names, library_dir, manifest_dir, run_build_step, text, valgrind,
    valgrind_skipped, wrapped_command, Api, ChunkedServer, C_COMPILER, ORG, REQUEST_ID, TOKEN,
};

// ---- Compiling the C code ------------------------------------------------

/// The folder under `target/<profile>/deps/` for the compiled programs.
const BUILD_FOLDER: &str = "c-api-tests";

/// The compiled C programs, built once per test process.
struct Programs {
    api_test: PathBuf,
    examples: PathBuf,
}

fn programs() -> &'static Programs {
    static PROGRAMS: OnceLock<Programs> = OnceLock::new();
    PROGRAMS.get_or_init(build_programs)
}

/// Compiles `tests/c/api_test.c` into `build_dir` and returns the program.
fn compile_api_test(build_dir: &Path, cflags: &[String], ldflags: &[String]) -> PathBuf {
    let api_test = build_dir.join("api_test");
    compile(&C_COMPILER, "tests/c/api_test.c", &api_test, cflags, ldflags);
    api_test
}

fn build_programs() -> Programs {
    let lib_dir = library_dir();
    let cflags = extra_flags("TALLYFY_TEST_CFLAGS");
    let ldflags = extra_flags("TALLYFY_TEST_LDFLAGS");
    let build_dir = build_dir(BUILD_FOLDER);
    let api_test = compile_api_test(&build_dir, &cflags, &ldflags);

    let include_dir = manifest_dir().join("include");
    let examples = build_dir.join("examples");
    let optimise = format!("-O1 -g {}", cflags.join(" "));
    run_build_step(
        Command::new("make")
            .arg("-C")
            .arg(manifest_dir().join("examples/c"))
            .arg(format!("LIBDIR={}", lib_dir.display()))
            .arg(format!("INCLUDEDIR={}", include_dir.display()))
            .arg(format!("BUILD={}", examples.display()))
            .arg(format!("CFLAGS={optimise}"))
            .arg(format!("CXXFLAGS={optimise}"))
            .arg(format!("LDFLAGS={}", ldflags.join(" "))),
        "building examples/c with make",
    );

    Programs { api_test, examples }
}

// ---- Running the programs ------------------------------------------------

/// Runs one case of a build of the C test program, or "all", with the
/// servers and a fresh work folder, and with `wrapper` (such as valgrind) in
/// front when not empty. Returns its output and the folder.
fn run_program_case<S: AsRef<OsStr>>(
    api_test: &Path,
    case: &str,
    api: &Api,
    chunked: &ChunkedServer,
    wrapper: &[S],
) -> (Output, tempfile::TempDir) {
    let workdir = tempfile::tempdir().expect("creating a work folder");
    let output = wrapped_command(wrapper, api_test)
        .arg(case)
        .env("TALLYFY_TEST_BASE_URL", api.base_url())
        .env("TALLYFY_TEST_CHUNKED_URL", &chunked.url)
        .env("TALLYFY_TEST_FIXTURE", fixture_path())
        .env("TALLYFY_TEST_WORKDIR", workdir.path())
        .output()
        .expect("running api_test");
    (output, workdir)
}

/// Runs one case of the C test program and asserts that it passed.
fn pass_case(case: &str, api: &Api, chunked: &ChunkedServer) -> (String, tempfile::TempDir) {
    let no_wrapper: [&str; 0] = [];
    let (output, workdir) = run_program_case(&programs().api_test, case, api, chunked, &no_wrapper);
    let stdout = assert_case_passed("api_test", case, &output);
    (stdout, workdir)
}

/// Returns the case names that a build of the C test program lists, in the
/// order in which "all" runs them.
fn listed_cases(api_test: &Path) -> Vec<String> {
    let output = run_build_step(command(api_test).arg("list"), "api_test list");
    let cases: Vec<String> = text(&output.stdout).lines().map(str::to_string).collect();
    assert!(!cases.is_empty(), "api_test list printed no case");
    cases
}

/// Returns the cases that a run printed "ok CASE" for, in order.
fn passed_cases(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("ok "))
        .map(str::to_string)
        .collect()
}

/// Asserts that a run of "all" by `api_test` printed "ok CASE" for every
/// case that `api_test list` names, and left no temporary file in `workdir`.
/// `under` says how the program ran, for the messages.
fn assert_every_case_passed(api_test: &Path, output: &Output, workdir: &Path, under: &str) {
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert_eq!(
        passed_cases(&stdout),
        listed_cases(api_test),
        "not every case passed {under}:\n{stdout}\n{stderr}"
    );
    assert!(
        !folder_names(workdir)
            .iter()
            .any(|name| name.contains("tallyfy-part")),
        "a temporary file was left behind"
    );
}

// ---- The C test program ----------------------------------------------------

#[test]
fn c_null_arguments_are_rejected() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    pass_case("null-arguments", &api, &chunked);
    assert_eq!(api.pdf.calls(), 0, "a call with a NULL argument sent a request");
    assert_eq!(
        chunked.requests.load(Ordering::SeqCst),
        0,
        "a request reached the chunked server"
    );
}

#[test]
fn c_invalid_utf8_is_rejected() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    let (_, workdir) = pass_case("invalid-utf8", &api, &chunked);
    assert_eq!(
        api.pdf.calls(),
        0,
        "a call with an invalid argument sent a request"
    );
    assert_eq!(
        folder_names(workdir.path()),
        Vec::<String>::new(),
        "a rejected call left a file"
    );
}

#[test]
fn c_status_strings_cover_every_code() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    pass_case("status-strings", &api, &chunked);
}

/// Returns the `version` of the `[package]` table of Cargo.toml.
fn cargo_toml_version() -> String {
    let manifest = fs::read_to_string(manifest_dir().join("Cargo.toml")).expect("reading Cargo.toml");
    let package = manifest
        .split("\n[")
        .find(|table| table.trim_start_matches('[').starts_with("package]"))
        .expect("Cargo.toml has a [package] table");
    let line = package
        .lines()
        .find(|line| line.trim_start().starts_with("version"))
        .expect("[package] has a version");
    line.split('"')
        .nth(1)
        .expect("the version is a quoted string")
        .to_string()
}

#[test]
fn c_version_matches_cargo_toml() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    let (stdout, _) = pass_case("version", &api, &chunked);
    let expected = cargo_toml_version();

    let line = stdout
        .lines()
        .find(|line| line.starts_with("version "))
        .expect("api_test printed the version");
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields.len(), 4, "unexpected version line {line:?}");
    assert_eq!(fields[1], expected, "tallyfy_version() differs from Cargo.toml");
    assert_eq!(
        fields[2], expected,
        "TALLYFY_VERSION_MAJOR.MINOR.PATCH differ from Cargo.toml"
    );
    assert_eq!(fields[3], expected, "TALLYFY_VERSION differs from Cargo.toml");

    // Each macro in the checked-in header, against Cargo.toml's numbers.
    let header = fs::read_to_string(manifest_dir().join("include/tallyfy_files.h")).unwrap();
    let parts: Vec<&str> = expected.split(['.', '-', '+']).collect();
    for (name, value) in [("MAJOR", parts[0]), ("MINOR", parts[1]), ("PATCH", parts[2])] {
        let define = format!("#define TALLYFY_VERSION_{name} {value}\n");
        assert!(header.contains(&define), "the header lacks {define:?}");
    }
}

#[test]
fn c_buffer_too_small_then_retry() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    pass_case("buffer-retry", &api, &chunked);
    assert_eq!(
        api.pdf.calls(),
        3,
        "expected the too-small, size-query and retry requests"
    );
}

#[test]
fn c_buffer_grows_for_unknown_size() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    pass_case("buffer-unknown-size", &api, &chunked);
    assert!(
        chunked.requests.load(Ordering::SeqCst) >= 3,
        "the buffer should have grown over several requests"
    );
}

#[test]
fn c_memory_download_and_limits() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    pass_case("memory", &api, &chunked);
}

#[test]
fn c_write_callback_receives_bytes() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    pass_case("write-callback", &api, &chunked);
}

#[test]
fn c_write_callback_short_return() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    pass_case("write-short", &api, &chunked);
    assert_eq!(api.pdf.calls(), 1, "a write error must not be retried");
}

#[test]
fn c_progress_totals() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    let (_, workdir) = pass_case("progress", &api, &chunked);
    let saved = fs::read(workdir.path().join("progress.pdf")).expect("progress.pdf was saved");
    assert!(saved == fixture_bytes(), "progress.pdf differs from the fixture");
    assert_eq!(folder_names(workdir.path()), ["progress.pdf"], "unexpected files");
}

#[test]
fn c_declared_size_never_equals_unknown() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    pass_case("huge-length", &api, &chunked);
    assert_eq!(chunked.requests.load(Ordering::SeqCst), 1, "expected one request");
}

#[test]
fn c_progress_abort_leaves_nothing() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    let (_, workdir) = pass_case("progress-abort", &api, &chunked);
    assert_eq!(
        folder_names(workdir.path()),
        Vec::<String>::new(),
        "an aborted download left files behind"
    );
}

#[test]
fn c_error_detail_is_read_back() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    let (stdout, _) = pass_case("error-detail", &api, &chunked);
    assert_eq!(api.missing.calls(), 1, "a 404 must not be retried");

    let message = stdout
        .lines()
        .find_map(|line| line.strip_prefix("message "))
        .expect("api_test printed the message");
    for part in [
        "missing1",
        "404",
        "RESOURCE_NOT_FOUND",
        "File not found",
        REQUEST_ID,
    ] {
        assert!(message.contains(part), "the message {message:?} lacks {part:?}");
    }
    assert!(
        !message.contains(TOKEN),
        "the message contains the token: {message}"
    );
}

#[test]
fn c_path_folder_and_inline() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    let (_, workdir) = pass_case("path-and-folder", &api, &chunked);
    assert_eq!(api.pdf_inline.calls(), 1, "the inline endpoint was not used once");

    let names = folder_names(workdir.path());
    assert_eq!(
        names,
        ["existing.pdf", "inline.pdf", "spec (1).pdf", "spec.pdf"],
        "unexpected files (a temporary file left behind?)"
    );
    for name in &names {
        let saved = fs::read(workdir.path().join(name)).unwrap();
        assert!(saved == fixture_bytes(), "{name} differs from the fixture");
    }
}

#[test]
fn c_file_descriptor_download() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    let (_, workdir) = pass_case("fd", &api, &chunked);
    let saved = fs::read(workdir.path().join("fd.pdf")).unwrap();
    assert!(saved == fixture_bytes(), "fd.pdf differs from the fixture");
}

#[test]
fn c_eight_threads_share_one_client() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    let (stdout, _) = pass_case("threads", &api, &chunked);
    assert!(stdout.contains("threads 8 downloads 64"), "{stdout}");
    assert_eq!(api.pdf.calls(), 32, "each of 8 threads downloads the PDF 4 times");
    assert_eq!(
        api.missing.calls(),
        32,
        "each of 8 threads asks for the missing file 4 times"
    );
}

#[test]
fn c_all_cases_under_valgrind() {
    if valgrind_skipped() {
        return;
    }
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    let api_test = &programs().api_test;
    let (output, workdir) = run_program_case(api_test, "all", &api, &chunked, &valgrind());

    assert_valgrind_passed("api_test", "all", &output);
    assert_every_case_passed(api_test, &output, workdir.path(), "under valgrind");
}

/// The flags of the sanitizer build: AddressSanitizer, with LeakSanitizer
/// at exit, and UndefinedBehaviorSanitizer, which stops at the first report.
const SANITIZER_FLAGS: [&str; 3] = [
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=undefined",
    "-fno-omit-frame-pointer",
];

/// Text that marks a sanitizer report on stderr.
const SANITIZER_REPORTS: [&str; 3] = [
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
];

/// Compiles and runs a trivial program with `cflags`. Returns why the
/// toolchain cannot build or run sanitized programs, or `None` when it can.
fn sanitizer_unsupported(build_dir: &Path, cflags: &[String]) -> Option<String> {
    let source = build_dir.join("probe.c");
    let program = build_dir.join("probe");
    fs::write(
        &source,
        "#include <stdlib.h>\nint main(void) { free(malloc(16)); return 0; }\n",
    )
    .expect("writing the probe program");

    let compiled = match Command::new("cc")
        .args(cflags)
        .arg("-o")
        .arg(&program)
        .arg(&source)
        .output()
    {
        Ok(output) => output,
        Err(e) => return Some(format!("cc could not run: {e}")),
    };
    if !compiled.status.success() {
        return Some(format!(
            "cc rejected the flags: {}",
            text(&compiled.stderr).trim()
        ));
    }
    let ran = command(&program).output().expect("running the probe program");
    if !ran.status.success() {
        return Some(format!(
            "a trivial sanitized program failed ({}): {}",
            ran.status,
            text(&ran.stderr).trim()
        ));
    }
    None
}

#[test]
fn c_all_cases_under_address_sanitizer() {
    let mut cflags = extra_flags("TALLYFY_TEST_CFLAGS");
    cflags.extend(SANITIZER_FLAGS.map(String::from));
    let ldflags = extra_flags("TALLYFY_TEST_LDFLAGS");
    let build_dir = build_dir_for(BUILD_FOLDER, &cflags, &ldflags);
    if let Some(reason) = sanitizer_unsupported(&build_dir, &cflags) {
        eprintln!("skipped: no AddressSanitizer build here: {reason}");
        return;
    }
    let api_test = compile_api_test(&build_dir, &cflags, &ldflags);

    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    // The sanitizers read their settings from the environment, which `env`
    // sets for the program alone. LeakSanitizer needs no suppression file,
    // because it counts a pointer into the middle of a block as a reference.
    // So the thread handle that Rust's std keeps for the C main thread, which
    // tests/c/valgrind.supp suppresses, is not reported as a leak.
    let wrapper = [
        "env",
        "ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=86",
        "LSAN_OPTIONS=exitcode=86",
        "UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=86",
    ];
    let (output, workdir) = run_program_case(&api_test, "all", &api, &chunked, &wrapper);
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);

    for report in SANITIZER_REPORTS {
        assert!(
            !stderr.contains(report),
            "a sanitizer reported {report:?}:\n{stderr}"
        );
    }
    assert_ne!(
        output.status.code(),
        Some(86),
        "a sanitizer reported an error:\n{stderr}"
    );
    assert!(
        output.status.success(),
        "api_test all failed with sanitizers ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert_every_case_passed(&api_test, &output, workdir.path(), "with sanitizers");
}

// ---- The examples ----------------------------------------------------------

/// Each example is built twice: against the shared and the static library.
const LINKS: [&str; 2] = ["", "-static"];

fn example(name: &str, link: &str) -> PathBuf {
    programs().examples.join(format!("{name}{link}"))
}

fn cli(link: &str, api: &Api, cwd: &Path, args: &[&str]) -> Output {
    command(&example("tallyfy-download", link))
        .args(args)
        .current_dir(cwd)
        .env("TALLYFY_ACCESS_TOKEN", TOKEN)
        .env("TALLYFY_ORG_ID", ORG)
        .env("TALLYFY_BASE_URL", api.base_url())
        .output()
        .expect("running tallyfy-download")
}

#[test]
fn cli_saves_to_output_path() {
    let server = MockServer::start();
    let api = Api::new(&server);
    for link in LINKS {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("report.pdf");
        let output = cli(
            link,
            &api,
            dir.path(),
            &["--output", target.to_str().unwrap(), "pdf1"],
        );

        assert!(
            output.status.success(),
            "tallyfy-download{link}: {}",
            text(&output.stderr)
        );
        assert_eq!(
            text(&output.stdout).trim_end(),
            target.to_str().unwrap(),
            "printed path"
        );
        assert!(
            fs::read(&target).unwrap() == fixture_bytes(),
            "{link}: saved bytes differ"
        );
        assert_eq!(
            folder_names(dir.path()),
            ["report.pdf"],
            "{link}: unexpected files"
        );
    }
}

#[test]
fn cli_saves_under_server_name() {
    let server = MockServer::start();
    let api = Api::new(&server);
    for link in LINKS {
        // Into the current folder, then into --output-dir.
        let dir = tempfile::tempdir().unwrap();
        let output = cli(link, &api, dir.path(), &["pdf1"]);
        assert!(
            output.status.success(),
            "tallyfy-download{link}: {}",
            text(&output.stderr)
        );
        assert_eq!(
            text(&output.stdout).trim_end(),
            "./spec.pdf",
            "{link}: printed path"
        );
        assert!(
            fs::read(dir.path().join("spec.pdf")).unwrap() == fixture_bytes(),
            "{link}: bytes differ"
        );

        let output = cli(link, &api, dir.path(), &["--output-dir", ".", "pdf1"]);
        assert!(
            output.status.success(),
            "tallyfy-download{link}: {}",
            text(&output.stderr)
        );
        assert_eq!(
            text(&output.stdout).trim_end(),
            "./spec (1).pdf",
            "{link}: a taken name is numbered"
        );

        let inner = dir.path().join("inner");
        fs::create_dir(&inner).unwrap();
        let output = cli(
            link,
            &api,
            dir.path(),
            &["--inline", "--output-dir", "inner", "pdf1"],
        );
        assert!(
            output.status.success(),
            "tallyfy-download{link}: {}",
            text(&output.stderr)
        );
        assert_eq!(
            text(&output.stdout).trim_end(),
            "inner/spec.pdf",
            "{link}: printed path"
        );
        assert!(
            fs::read(inner.join("spec.pdf")).unwrap() == fixture_bytes(),
            "{link}: inline bytes differ"
        );
    }
    assert_eq!(
        api.pdf_inline.calls(),
        2,
        "--inline did not use the inline endpoint"
    );
}

#[test]
fn cli_reports_failure() {
    let server = MockServer::start();
    let api = Api::new(&server);
    for link in LINKS {
        let dir = tempfile::tempdir().unwrap();
        let output = cli(link, &api, dir.path(), &["missing1"]);
        let stderr = text(&output.stderr);

        assert_eq!(
            output.status.code(),
            Some(1),
            "tallyfy-download{link} exit status; stderr: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{link}: printed a path on failure");
        for part in [
            "tallyfy-download: download failed:",
            "404",
            "RESOURCE_NOT_FOUND",
            REQUEST_ID,
        ] {
            assert!(stderr.contains(part), "{link}: stderr {stderr:?} lacks {part:?}");
        }
        assert!(!stderr.contains(TOKEN), "{link}: stderr contains the token");
        assert_eq!(
            folder_names(dir.path()),
            Vec::<String>::new(),
            "{link}: a failed download left files"
        );

        let usage = cli(link, &api, dir.path(), &[]);
        assert_eq!(
            usage.status.code(),
            Some(2),
            "{link}: no FILE_ID is a usage error"
        );
        assert!(
            text(&usage.stderr).contains("usage: tallyfy-download"),
            "{link}: no usage text"
        );
    }
}

fn run_example(name: &str, link: &str, base_url: &str, args: &[&str]) -> Output {
    command(&example(name, link))
        .args(args)
        .env("TALLYFY_ACCESS_TOKEN", TOKEN)
        .env("TALLYFY_ORG_ID", ORG)
        .env("TALLYFY_BASE_URL", base_url)
        .output()
        .unwrap_or_else(|e| panic!("running {name}{link}: {e}"))
}

#[test]
fn buffer_example_grows_and_retries() {
    let server = MockServer::start();
    let api = Api::new(&server);
    let chunked = ChunkedServer::start();
    for link in LINKS {
        // A declared size: one retry with the size needed.
        let output = run_example("buffer", link, &api.base_url(), &["pdf1", "100"]);
        let stderr = text(&output.stderr);
        assert!(output.status.success(), "buffer{link}: {stderr}");
        assert!(
            output.stdout == fixture_bytes(),
            "buffer{link}: stdout differs from the fixture"
        );
        assert!(
            stderr.contains("100 bytes are too few; trying again with 140429"),
            "buffer{link}: {stderr}"
        );

        // No declared size: the buffer doubles until the file fits.
        let output = run_example("buffer", link, &chunked.url, &["pdf1", "50000"]);
        let stderr = text(&output.stderr);
        assert!(output.status.success(), "buffer{link} (chunked): {stderr}");
        assert!(
            output.stdout == fixture_bytes(),
            "buffer{link} (chunked): stdout differs"
        );
        assert!(
            stderr.contains("trying again with 200000"),
            "buffer{link} (chunked): {stderr}"
        );
    }
}

#[test]
fn cpp_example_downloads_to_memory() {
    let server = MockServer::start();
    let api = Api::new(&server);
    for link in LINKS {
        let output = run_example("memory", link, &api.base_url(), &["pdf1"]);
        let stderr = text(&output.stderr);
        assert!(output.status.success(), "memory{link}: {stderr}");
        assert!(
            output.stdout == fixture_bytes(),
            "memory{link}: stdout differs from the fixture"
        );
        assert!(
            stderr.contains("spec.pdf (application/octet-stream), 140429 bytes, HTTP 200"),
            "memory{link}: {stderr}"
        );

        let output = run_example("memory", link, &api.base_url(), &["missing1"]);
        let stderr = text(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(1),
            "memory{link} exit status: {stderr}"
        );
        assert!(
            stderr.contains("404 Not Found") && stderr.contains("RESOURCE_NOT_FOUND"),
            "memory{link}: {stderr}"
        );
    }
}
