//! Tests of `make install`: the installed files and names, the symbols the
//! shared library exports, and consumers built three ways from the
//! installation (pkg-config with the shared library, pkg-config --static, and
//! CMake's find_package), each run against a server on 127.0.0.1.
//!
//! The first test to need the installation runs `make install` once for the
//! test process. Its release build goes to `<target>/install-release`, apart
//! from the target folder that `cargo test` holds locked, and is reused by
//! later runs, so only the first run pays for a release build. The
//! installation and the consumers' builds go to
//! `target/<profile>/deps/install-tests/`, which each run clears first.
//!
//! Needs make, cc, c++, pkg-config, cmake, readelf, nm and ldd on the PATH.

mod native;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use httpmock::MockServer;

use native::{
    command, fixture_bytes, folder_names, library_dir, manifest_dir, run_build_step, text, Api, ORG, TOKEN,
};

// ---- Names ---------------------------------------------------------------

const MAJOR: &str = env!("CARGO_PKG_VERSION_MAJOR");
const MINOR: &str = env!("CARGO_PKG_VERSION_MINOR");
const PATCH: &str = env!("CARGO_PKG_VERSION_PATCH");

/// The SONAME version: MAJOR from 1.0 on, 0.MINOR before, 0.0.PATCH for 0.0.
fn soversion() -> String {
    match (MAJOR, MINOR) {
        ("0", "0") => format!("0.0.{PATCH}"),
        ("0", minor) => format!("0.{minor}"),
        (major, _) => major.to_string(),
    }
}

fn soname() -> String {
    format!("libtallyfy_files.so.{}", soversion())
}

fn real_name() -> String {
    format!("libtallyfy_files.so.{MAJOR}.{MINOR}.{PATCH}")
}

// ---- Running tools -------------------------------------------------------

/// Runs a tool with the clean environment of `native::command`, and panics
/// with its output when it fails.
fn run(program: &str, args: &[&str], what: &str) -> Output {
    run_build_step(command(Path::new(program)).args(args), what)
}

/// Runs `make` in the repository with `args`, for `make install` and
/// `make uninstall`. The release build goes to `<target>/install-release`.
fn make(args: &[String]) -> Output {
    let deps = library_dir();
    let target = deps
        .parent()
        .and_then(Path::parent)
        .expect("the test executable is in target/<profile>/deps");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());

    // A jobserver of an outer make would name file descriptors that this
    // process does not have.
    run_build_step(
        command(Path::new("make"))
            .env_remove("MAKEFLAGS")
            .env_remove("MFLAGS")
            .env_remove("MAKELEVEL")
            .arg("-C")
            .arg(manifest_dir())
            .arg(format!("CARGO={cargo}"))
            .arg(format!(
                "CAPI_TARGET_DIR={}",
                target.join("install-release").display()
            ))
            .args(args),
        &format!("make {args:?}"),
    )
}

/// The installation that the tests share, made once per test process.
struct Installation {
    prefix: PathBuf,
    /// A folder for the consumers' builds.
    work: PathBuf,
}

impl Installation {
    fn lib(&self) -> PathBuf {
        self.prefix.join("lib")
    }

    /// Runs `pkg-config` with this installation's .pc folder.
    fn pkg_config(&self, args: &[&str]) -> String {
        let output = run_build_step(
            command(Path::new("pkg-config"))
                .env("PKG_CONFIG_PATH", self.lib().join("pkgconfig"))
                .env_remove("PKG_CONFIG_LIBDIR")
                .args(args),
            &format!("pkg-config {args:?}"),
        );
        text(&output.stdout).trim().to_string()
    }
}

fn installation() -> &'static Installation {
    static INSTALLATION: OnceLock<Installation> = OnceLock::new();
    INSTALLATION.get_or_init(|| {
        let root = library_dir().join("install-tests");
        if root.exists() {
            fs::remove_dir_all(&root).expect("clearing the previous run's installation");
        }
        let prefix = root.join("prefix");
        let work = root.join("work");
        fs::create_dir_all(&work).unwrap();

        make(&["install".to_string(), format!("PREFIX={}", prefix.display())]);
        Installation { prefix, work }
    })
}

// ---- The consumers ---------------------------------------------------------

/// Runs a consumer against a fresh server, and checks the file it saved.
fn download_with(program: &Path) {
    let server = MockServer::start();
    let api = Api::new(&server);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("report.pdf");

    let output = command(program)
        .arg("pdf1")
        .arg(&target)
        .env("TALLYFY_ACCESS_TOKEN", TOKEN)
        .env("TALLYFY_ORG_ID", ORG)
        .env("TALLYFY_BASE_URL", api.base_url())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));

    let name = program.file_name().unwrap().to_string_lossy();
    assert!(
        output.status.success(),
        "{name} failed ({}):\n{}\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    assert_eq!(api.pdf.calls(), 1, "{name} did not download the file once");
    let expected = format!(
        "saved {} bytes with tallyfy_files {}",
        fixture_bytes().len(),
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(text(&output.stdout).trim_end(), expected, "{name} output");
    assert!(
        fs::read(&target).unwrap() == fixture_bytes(),
        "{name}: the saved file differs from the fixture"
    );
    assert_eq!(
        folder_names(dir.path()),
        ["report.pdf"],
        "{name}: unexpected files"
    );
}

/// Returns the NEEDED entries of an ELF file's dynamic section.
fn needed_libraries(file: &Path) -> Vec<String> {
    let output = run("readelf", &["-d", file.to_str().unwrap()], "readelf -d");
    text(&output.stdout)
        .lines()
        .filter(|line| line.contains("(NEEDED)"))
        .filter_map(|line| line.split('[').nth(1))
        .map(|rest| rest.trim_end_matches(']').to_string())
        .collect()
}

/// Returns ldd's line for the tallyfy library, if the program loads it.
fn ldd_line(program: &Path) -> Option<String> {
    let output = run("ldd", &[program.to_str().unwrap()], "ldd");
    text(&output.stdout)
        .lines()
        .find(|line| line.contains("libtallyfy_files"))
        .map(|line| line.trim().to_string())
}

fn assert_links_installed_shared_library(program: &Path, install: &Installation) {
    let name = program.file_name().unwrap().to_string_lossy();
    let needed = needed_libraries(program);
    assert!(
        needed.contains(&soname()),
        "{name} does not record the SONAME {} as NEEDED: {needed:?}",
        soname()
    );

    let line = ldd_line(program).unwrap_or_else(|| panic!("ldd does not list libtallyfy_files for {name}"));
    let expected = format!("{} => {}", soname(), install.lib().join(soname()).display());
    assert!(
        line.starts_with(&expected),
        "{name} loads another copy of the library: {line:?}, expected {expected:?}"
    );
}

fn assert_static(program: &Path) {
    let name = program.file_name().unwrap().to_string_lossy();
    let needed = needed_libraries(program);
    assert!(
        !needed
            .iter()
            .any(|library| library.starts_with("libtallyfy_files")),
        "{name} needs the shared library: {needed:?}"
    );
    assert_eq!(ldd_line(program), None, "ldd lists libtallyfy_files for {name}");
}

/// Compiles consumer.c with the flags that pkg-config printed.
fn compile_consumer(install: &Installation, output: &Path, link_flags: &[String]) {
    let cflags = install.pkg_config(&["--cflags", "tallyfy_files"]);
    let mut compile = command(Path::new("cc"));
    compile
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .args(cflags.split_whitespace())
        .arg("-o")
        .arg(output)
        .arg(manifest_dir().join("tests/install/consumer.c"))
        .args(link_flags);
    run_build_step(&mut compile, "compiling tests/install/consumer.c");
}

// ---- The installed files -----------------------------------------------------

#[test]
fn install_lays_out_files_and_symlinks() {
    let install = installation();
    let lib = install.lib();

    let real = lib.join(real_name());
    assert!(
        fs::symlink_metadata(&real).unwrap().file_type().is_file(),
        "{} is not a regular file",
        real.display()
    );
    assert_eq!(
        fs::read_link(lib.join(soname())).expect("the SONAME link exists"),
        PathBuf::from(real_name()),
        "the SONAME link"
    );
    assert_eq!(
        fs::read_link(lib.join("libtallyfy_files.so")).expect("the development link exists"),
        PathBuf::from(soname()),
        "the development link"
    );
    assert!(
        lib.join("libtallyfy_files.a").is_file(),
        "the static library is missing"
    );

    let header = fs::read(install.prefix.join("include/tallyfy_files.h")).expect("the C header is installed");
    assert!(
        header == fs::read(manifest_dir().join("include/tallyfy_files.h")).unwrap(),
        "the installed C header differs from include/tallyfy_files.h"
    );
    let wrapper =
        fs::read(install.prefix.join("include/tallyfy_files.hpp")).expect("the C++ header is installed");
    assert!(
        wrapper == fs::read(manifest_dir().join("include/tallyfy_files.hpp")).unwrap(),
        "the installed C++ header differs from include/tallyfy_files.hpp"
    );

    let cmake = lib.join("cmake/tallyfy_files");
    assert_eq!(
        folder_names(&cmake),
        ["tallyfy_filesConfig.cmake", "tallyfy_filesConfigVersion.cmake"],
        "the CMake package"
    );
    for name in folder_names(&cmake) {
        let content = fs::read_to_string(cmake.join(&name)).unwrap();
        assert!(!content.contains('@'), "{name} has a placeholder left: {content}");
    }
}

#[test]
fn shared_library_has_soname() {
    let install = installation();
    let output = run(
        "readelf",
        &["-d", install.lib().join(real_name()).to_str().unwrap()],
        "readelf -d",
    );
    let expected = format!("Library soname: [{}]", soname());
    assert!(
        text(&output.stdout).contains(&expected),
        "no {expected:?} in:\n{}",
        text(&output.stdout)
    );
}

/// Returns the functions that the C header declares.
fn header_functions() -> Vec<String> {
    let header = fs::read_to_string(manifest_dir().join("include/tallyfy_files.h")).unwrap();
    let mut names: Vec<String> = header
        .lines()
        .filter(|line| {
            let comment = line.starts_with("/*") || line.starts_with(" *") || line.starts_with("//");
            !comment && !line.starts_with("typedef") && !line.starts_with('#')
        })
        .filter_map(|line| {
            let before = &line[..line.find('(')?];
            let name = before.rsplit([' ', '*']).next()?;
            name.starts_with("tallyfy_").then(|| name.to_string())
        })
        .collect();
    names.sort();
    names
}

#[test]
fn only_header_functions_are_exported() {
    let install = installation();
    let output = run(
        "nm",
        &[
            "-D",
            "--defined-only",
            install.lib().join(real_name()).to_str().unwrap(),
        ],
        "nm -D --defined-only",
    );
    let mut exported: Vec<String> = text(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().last())
        .map(str::to_string)
        .collect();
    exported.sort();

    let foreign: Vec<&String> = exported
        .iter()
        .filter(|name| !name.starts_with("tallyfy_"))
        .collect();
    assert!(
        foreign.is_empty(),
        "symbols without the tallyfy_ prefix are exported: {foreign:?}"
    );

    let declared = header_functions();
    assert!(
        declared.len() > 40,
        "only {} functions found in the header",
        declared.len()
    );
    assert_eq!(
        exported, declared,
        "the exported symbols differ from the header's functions"
    );
}

// ---- pkg-config ----------------------------------------------------------

#[test]
fn pkg_config_describes_the_installation() {
    let install = installation();
    assert_eq!(
        install.pkg_config(&["--modversion", "tallyfy_files"]),
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        install.pkg_config(&["--libs", "tallyfy_files"]),
        format!("-L{} -ltallyfy_files", install.lib().display())
    );

    let private: Vec<String> = install
        .pkg_config(&["--static", "--libs", "tallyfy_files"])
        .split_whitespace()
        .skip(2)
        .map(str::to_string)
        .collect();
    for library in ["-lpthread", "-ldl", "-lc"] {
        assert!(
            private.iter().any(|flag| flag == library),
            "--static lacks {library}: {private:?}"
        );
    }
    assert!(
        private.iter().all(|flag| flag.starts_with("-l")),
        "unexpected flags in Libs.private: {private:?}"
    );
}

#[test]
fn pkg_config_shared_consumer() {
    let install = installation();
    let program = install.work.join("consumer-shared");
    let libdir = install.pkg_config(&["--variable=libdir", "tallyfy_files"]);
    let mut flags: Vec<String> = install
        .pkg_config(&["--libs", "tallyfy_files"])
        .split_whitespace()
        .map(str::to_string)
        .collect();
    flags.push(format!("-Wl,-rpath,{libdir}"));

    compile_consumer(install, &program, &flags);
    assert_links_installed_shared_library(&program, install);
    download_with(&program);
}

/// Links the static library as a build system does with `pkg-config
/// --static`: the archive under -Bstatic, and the system libraries of
/// Libs.private as shared libraries after it.
#[test]
fn pkg_config_static_consumer() {
    let install = installation();
    let program = install.work.join("consumer-static");
    let flags: Vec<String> = install
        .pkg_config(&["--static", "--libs", "tallyfy_files"])
        .split_whitespace()
        .flat_map(|flag| match flag {
            "-ltallyfy_files" => vec![
                "-Wl,-Bstatic".to_string(),
                flag.to_string(),
                "-Wl,-Bdynamic".to_string(),
            ],
            _ => vec![flag.to_string()],
        })
        .collect();

    compile_consumer(install, &program, &flags);
    assert_static(&program);
    download_with(&program);
}

// ---- CMake -----------------------------------------------------------------

/// Configures tests/install/CMakeLists.txt in `build` against the
/// installation, with extra `-D` settings, and returns cmake's output.
fn cmake_configure(install: &Installation, build: &Path, settings: &[String]) -> Output {
    command(Path::new("cmake"))
        .arg("-S")
        .arg(manifest_dir().join("tests/install"))
        .arg("-B")
        .arg(build)
        .arg(format!("-DCMAKE_PREFIX_PATH={}", install.prefix.display()))
        .arg("-DCMAKE_BUILD_TYPE=Release")
        .args(settings)
        .output()
        .expect("running cmake; is it installed?")
}

fn cmake_build(build: &Path, targets: &[&str]) {
    let mut args = vec!["--build", build.to_str().unwrap(), "--parallel", "2"];
    for target in targets {
        args.extend(["--target", target]);
    }
    run("cmake", &args, "cmake --build");
}

fn requested_version() -> String {
    format!("-DREQUESTED_VERSION={MAJOR}.{MINOR}")
}

#[test]
fn cmake_find_package_consumers() {
    let install = installation();
    let build = install.work.join("cmake-build");
    let output = cmake_configure(install, &build, &[requested_version()]);
    assert!(
        output.status.success(),
        "cmake configure failed:\n{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    cmake_build(&build, &[]);

    let shared = build.join("consumer-cmake");
    assert_links_installed_shared_library(&shared, install);
    download_with(&shared);

    let static_program = build.join("consumer-cmake-static");
    assert_static(&static_program);
    download_with(&static_program);

    let cpp = build.join("consumer-cmake-cpp");
    assert_links_installed_shared_library(&cpp, install);
    download_with(&cpp);
}

#[test]
fn cmake_use_static_libs_switch() {
    let install = installation();
    let build = install.work.join("cmake-build-static");
    let output = cmake_configure(
        install,
        &build,
        &[
            requested_version(),
            "-Dtallyfy_files_USE_STATIC_LIBS=ON".to_string(),
        ],
    );
    assert!(
        output.status.success(),
        "cmake configure failed:\n{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    cmake_build(&build, &["consumer-cmake"]);

    let program = build.join("consumer-cmake");
    assert_static(&program);
    download_with(&program);
}

#[test]
fn cmake_rejects_incompatible_version() {
    let install = installation();
    let next_major: u32 = MAJOR.parse::<u32>().unwrap() + 1;
    let build = install.work.join("cmake-build-version");
    let output = cmake_configure(install, &build, &[format!("-DREQUESTED_VERSION={next_major}.0")]);
    let stderr = text(&output.stderr);
    assert!(
        !output.status.success(),
        "find_package accepted version {next_major}.0"
    );
    assert!(
        stderr.contains("tallyfy_files") && stderr.contains(env!("CARGO_PKG_VERSION")),
        "cmake did not name the installed version:\n{stderr}"
    );
}

// ---- DESTDIR, LIBDIR and uninstall -------------------------------------------

/// Returns the files (not folders) under `root`, relative to it, sorted.
fn files_under(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                pending.push(path);
            } else {
                files.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    files
}

#[test]
fn destdir_and_libdir_then_uninstall() {
    let install = installation();
    let stage = install.work.join("stage");
    let settings = vec![
        format!("DESTDIR={}", stage.display()),
        "PREFIX=/opt/tallyfy".to_string(),
        "LIBDIR=/opt/tallyfy/lib64".to_string(),
    ];

    let mut args = vec!["install".to_string()];
    args.extend(settings.iter().cloned());
    make(&args);

    let mut expected = vec![
        "opt/tallyfy/include/tallyfy_files.h".to_string(),
        "opt/tallyfy/include/tallyfy_files.hpp".to_string(),
        "opt/tallyfy/lib64/cmake/tallyfy_files/tallyfy_filesConfig.cmake".to_string(),
        "opt/tallyfy/lib64/cmake/tallyfy_files/tallyfy_filesConfigVersion.cmake".to_string(),
        "opt/tallyfy/lib64/libtallyfy_files.a".to_string(),
        "opt/tallyfy/lib64/libtallyfy_files.so".to_string(),
        format!("opt/tallyfy/lib64/{}", real_name()),
        format!("opt/tallyfy/lib64/{}", soname()),
        "opt/tallyfy/lib64/pkgconfig/tallyfy_files.pc".to_string(),
    ];
    expected.sort();
    assert_eq!(files_under(&stage), expected, "the files installed under DESTDIR");

    // The files name the final locations, never the staging folder.
    let pc = fs::read_to_string(stage.join("opt/tallyfy/lib64/pkgconfig/tallyfy_files.pc")).unwrap();
    assert!(pc.contains("prefix=/opt/tallyfy\n"), "the .pc prefix:\n{pc}");
    assert!(pc.contains("libdir=${prefix}/lib64\n"), "the .pc libdir:\n{pc}");
    assert!(
        !pc.contains(stage.to_str().unwrap()),
        "the .pc names the staging folder:\n{pc}"
    );
    let config =
        fs::read_to_string(stage.join("opt/tallyfy/lib64/cmake/tallyfy_files/tallyfy_filesConfig.cmake"))
            .unwrap();
    assert!(
        config.contains("\"${CMAKE_CURRENT_LIST_DIR}/../..\""),
        "the CMake package does not find lib64 relative to itself"
    );
    assert!(
        config.contains("\"${CMAKE_CURRENT_LIST_DIR}/../../../include\""),
        "the CMake package does not find include relative to itself"
    );

    let mut args = vec!["uninstall".to_string()];
    args.extend(settings);
    make(&args);
    assert_eq!(
        files_under(&stage),
        Vec::<String>::new(),
        "files left after make uninstall"
    );
}
