//! Helpers for the tests that compile C and C++ programs against the library
//! and run them against servers on 127.0.0.1. They find the cargo-built
//! libraries, compile the programs, give them a clean environment, run them
//! (under valgrind too), and serve the API routes on httpmock and bodies
//! without a length on a raw TCP server.
//!
//! Each test binary includes this module with `mod native;` and uses only a
//! part of it, so unused items are allowed here.

#![allow(dead_code)]

use std::collections::hash_map::DefaultHasher;
use std::ffi::OsStr;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use httpmock::prelude::*;
use httpmock::Mock;

/// The token that the programs send. The mocks match only requests that carry it.
pub const TOKEN: &str = "tok-native-5Xq8Rt2Mz4";

/// The organization of every route.
pub const ORG: &str = "org1";

/// The request ID of the 404 response for "missing1".
pub const REQUEST_ID: &str = "req-native-17";

const FIXTURE: &str = "tests/fixtures/shared-mime-info-spec.pdf";

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture_path() -> PathBuf {
    manifest_dir().join(FIXTURE)
}

pub fn fixture_bytes() -> Vec<u8> {
    fs::read(fixture_path()).expect("the PDF fixture is readable")
}

/// Returns the folder of this test executable, `target/<profile>/deps/`,
/// where `cargo test` also builds the crate's cdylib and staticlib. Only
/// `cargo build` copies them one level up, so the copies there may be stale.
pub fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    let dir = exe
        .parent()
        .expect("the test executable is in a folder")
        .to_path_buf();
    for name in ["libtallyfy_files.so", "libtallyfy_files.a"] {
        assert!(
            dir.join(name).is_file(),
            "{name} is not in {}, where cargo test builds the crate's cdylib and staticlib",
            dir.display()
        );
    }
    dir
}

/// Returns the extra compiler or linker flags in the environment variable
/// `name` (TALLYFY_TEST_CFLAGS or TALLYFY_TEST_LDFLAGS), split at spaces.
pub fn extra_flags(name: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Returns the build folder under `target/<profile>/deps/<name>/` for the
/// extra flags in TALLYFY_TEST_CFLAGS and TALLYFY_TEST_LDFLAGS.
pub fn build_dir(name: &str) -> PathBuf {
    build_dir_for(
        name,
        &extra_flags("TALLYFY_TEST_CFLAGS"),
        &extra_flags("TALLYFY_TEST_LDFLAGS"),
    )
}

/// Returns a build folder under `target/<profile>/deps/<name>/`, created if
/// needed, one per set of flags, so that objects built with and without a
/// sanitizer never mix.
pub fn build_dir_for(name: &str, cflags: &[String], ldflags: &[String]) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    (cflags, ldflags).hash(&mut hasher);
    let dir = library_dir().join(name).join(format!("{:016x}", hasher.finish()));
    fs::create_dir_all(&dir).expect("creating the build folder");
    dir
}

/// Runs a compiler, build tool or other tool, panics with its output when it
/// fails, and returns the output when it succeeds.
pub fn run_build_step(command: &mut Command, what: &str) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not run {command:?}: {e}; is it installed?"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{command:?}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The C compiler with the flags of every C test program: C99, every
/// warning an error, debug information and threads.
pub const C_COMPILER: [&str; 8] = [
    "cc",
    "-std=c99",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
    "-g",
    "-pthread",
];

/// Compiles `source`, a path relative to the repository, into `program` with
/// `compiler` (the compiler and its first flags), the headers of `include/`
/// and the extra `cflags`. Links it against the shared library in
/// [`library_dir`], found at run time by an rpath, and the extra `ldflags`.
/// Panics with the compiler's output when it fails.
pub fn compile(compiler: &[&str], source: &str, program: &Path, cflags: &[String], ldflags: &[String]) {
    let lib_dir = library_dir();
    let (tool, flags) = compiler.split_first().expect("a compiler is named");
    run_build_step(
        Command::new(tool)
            .args(flags)
            .arg(format!("-I{}", manifest_dir().join("include").display()))
            .args(cflags)
            .arg("-o")
            .arg(program)
            .arg(manifest_dir().join(source))
            .arg(format!("-L{}", lib_dir.display()))
            .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
            .arg("-ltallyfy_files")
            .args(ldflags),
        &format!("compiling {source}"),
    );
}

/// Builds a command with a clean environment for the library: no proxy
/// settings, so that requests go straight to 127.0.0.1, and no
/// LD_LIBRARY_PATH, which cargo sets for tests and which would win over the
/// programs' own run-time search path.
pub fn command(program: &Path) -> Command {
    let mut command = Command::new(program);
    for name in [
        "LD_LIBRARY_PATH",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ] {
        command.env_remove(name);
    }
    command
}

/// Builds a command for `program` with the clean environment of [`command`],
/// with `wrapper` (such as valgrind or env and its arguments) in front when
/// it is not empty.
pub fn wrapped_command<S: AsRef<OsStr>>(wrapper: &[S], program: &Path) -> Command {
    match wrapper.split_first() {
        Some((first, rest)) => {
            let mut command = command(Path::new(first));
            command.args(rest).arg(program);
            command
        }
        None => command(program),
    }
}

/// Returns true when TALLYFY_TEST_VALGRIND=0 turns the valgrind tests off
/// (for a build with AddressSanitizer), and prints that they were skipped.
pub fn valgrind_skipped() -> bool {
    let skipped = std::env::var("TALLYFY_TEST_VALGRIND").as_deref() == Ok("0");
    if skipped {
        eprintln!("skipped: TALLYFY_TEST_VALGRIND=0");
    }
    skipped
}

/// The exit status of a program run under [`valgrind`] when valgrind found
/// memory errors or leaks.
pub const VALGRIND_ERROR_STATUS: i32 = 99;

/// Returns valgrind and its arguments, to put in front of a program: memcheck
/// with definite and possible leaks as errors, exit status
/// [`VALGRIND_ERROR_STATUS`] on an error, and the suppressions of
/// `tests/c/valgrind.supp`.
pub fn valgrind() -> Vec<String> {
    let suppressions = format!(
        "--suppressions={}",
        manifest_dir().join("tests/c/valgrind.supp").display()
    );
    let error_exitcode = format!("--error-exitcode={VALGRIND_ERROR_STATUS}");
    let valgrind = [
        "valgrind",
        "--tool=memcheck",
        "--leak-check=full",
        "--show-leak-kinds=definite,possible",
        "--errors-for-leak-kinds=definite,possible",
        &error_exitcode,
        &suppressions,
        "--quiet",
    ];
    valgrind.map(String::from).to_vec()
}

/// Asserts that valgrind found no memory error or leak in a test program's
/// run of `case` under [`valgrind`], and that the run exited with success.
/// `name` names the program in the messages.
pub fn assert_valgrind_passed(name: &str, case: &str, output: &Output) {
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert_ne!(
        output.status.code(),
        Some(VALGRIND_ERROR_STATUS),
        "valgrind reported memory errors or leaks:\n{stderr}"
    );
    assert!(
        output.status.success(),
        "{name} {case} failed under valgrind ({}); is valgrind installed (apt-get install valgrind)?\n{stdout}\n{stderr}",
        output.status
    );
}

/// Asserts that a test program's run of `case` exited with success and
/// printed "ok CASE"; returns its stdout. `name` names the program in the
/// messages.
pub fn assert_case_passed(name: &str, case: &str, output: &Output) -> String {
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{name} {case} failed ({}):\n{stdout}\n{}",
        output.status,
        text(&output.stderr)
    );
    assert!(
        stdout.lines().any(|line| line == format!("ok {case}")),
        "{name} {case} did not report success:\n{stdout}"
    );
    stdout
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Returns the sorted names in a folder.
pub fn folder_names(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(folder)
        .unwrap_or_else(|e| panic!("listing {}: {e}", folder.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The routes that the programs use, on an httpmock server:
/// - `pdf1`: the fixture as "spec.pdf", attachment and inline;
/// - `empty1`: an empty file, "empty.txt";
/// - `missing1`: 404 with a JSON error body and an X-Request-Id header.
pub struct Api<'a> {
    pub server: &'a MockServer,
    pub pdf: Mock<'a>,
    pub pdf_inline: Mock<'a>,
    pub missing: Mock<'a>,
}

impl<'a> Api<'a> {
    pub fn new(server: &'a MockServer) -> Api<'a> {
        let pdf_bytes = fixture_bytes();
        let bearer = format!("Bearer {TOKEN}");

        let pdf = server.mock(|when, then| {
            when.method(GET)
                .path(format!("/api/organizations/{ORG}/file/pdf1/dl"))
                .header("authorization", &bearer);
            then.status(200)
                .header("content-type", "application/octet-stream")
                .header("content-disposition", "attachment; filename=\"spec.pdf\"")
                .body(&pdf_bytes);
        });
        let pdf_inline = server.mock(|when, then| {
            when.method(GET)
                .path(format!("/api/organizations/{ORG}/file/pdf1"))
                .header("authorization", &bearer);
            then.status(200)
                .header("content-type", "application/pdf")
                .header("content-disposition", "inline; filename=\"spec.pdf\"")
                .body(&pdf_bytes);
        });
        server.mock(|when, then| {
            when.method(GET)
                .path(format!("/api/organizations/{ORG}/file/empty1/dl"))
                .header("authorization", &bearer);
            then.status(200)
                .header("content-type", "text/plain")
                .header("content-disposition", "attachment; filename=\"empty.txt\"")
                .body("");
        });
        let missing = server.mock(|when, then| {
            when.method(GET)
                .path(format!("/api/organizations/{ORG}/file/missing1/dl"));
            then.status(404)
                .header("content-type", "application/json")
                .header("x-request-id", REQUEST_ID)
                .body(r#"{"error":true,"message":"File not found","code":"RESOURCE_NOT_FOUND"}"#);
        });

        Api {
            server,
            pdf,
            pdf_inline,
            missing,
        }
    }

    pub fn base_url(&self) -> String {
        self.server.url("/api")
    }
}

/// A server on 127.0.0.1 that sends the fixture in chunked encoding, without
/// a Content-Length, so that the size is unknown until the end. For file
/// "huge1" it declares a Content-Length of `u64::MAX` instead, the value that
/// the C API reserves for an unknown size.
pub struct ChunkedServer {
    pub url: String,
    pub requests: Arc<AtomicUsize>,
}

/// The maximum number of connections one chunked server accepts before its thread ends.
const CHUNKED_MAX_CONNECTIONS: usize = 64;

impl ChunkedServer {
    pub fn start() -> ChunkedServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1");
        let url = format!("http://{}/api", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let body = fixture_bytes();

        thread::spawn(move || {
            for stream in listener.incoming().take(CHUNKED_MAX_CONNECTIONS) {
                let Ok(stream) = stream else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = serve_chunked(stream, &body);
            }
        });
        ChunkedServer { url, requests }
    }
}

fn serve_chunked(mut stream: TcpStream, body: &[u8]) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;

    // Read the request head; its content does not matter here.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        if stream.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }

    if String::from_utf8_lossy(&head).contains("/file/huge1/") {
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            u64::MAX
        )?;
        stream.write_all(&body[..100])?;
        return stream.flush();
    }

    stream.write_all(
        b"HTTP/1.1 200 OK\r\n\
          Content-Type: application/octet-stream\r\n\
          Content-Disposition: attachment; filename=\"chunked.pdf\"\r\n\
          Transfer-Encoding: chunked\r\n\
          Connection: close\r\n\r\n",
    )?;
    for chunk in body.chunks(7000) {
        write!(stream, "{:x}\r\n", chunk.len())?;
        stream.write_all(chunk)?;
        stream.write_all(b"\r\n")?;
    }
    stream.write_all(b"0\r\n\r\n")?;
    stream.flush()
}
