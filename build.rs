//! Generates the C header `tallyfy_files.h` from src/ffi with cbindgen.
//!
//! The header is always written into OUT_DIR, and its path is passed to the
//! crate's tests as TALLYFY_GENERATED_HEADER, so that a test can compare it
//! with the checked-in `include/tallyfy_files.h`. The checked-in copy is
//! rewritten only when TALLYFY_UPDATE_HEADER=1, so that `cargo publish` and
//! read-only checkouts build without touching the source tree.
//!
//! Only src/ffi is parsed, without dependencies or macro expansion, which
//! keeps the build fast and offline.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-env-changed=TALLYFY_UPDATE_HEADER");

    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("cbindgen.toml is invalid: {e}"));
    config.after_includes = Some(version_macros());

    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/ffi/mod.rs"))
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen could not generate the C header from src/ffi: {e}"));

    let mut header = Vec::new();
    bindings.write(&mut header);

    let generated = out_dir.join("tallyfy_files.h");
    fs::write(&generated, &header).unwrap_or_else(|e| panic!("writing {}: {e}", generated.display()));
    println!("cargo:rustc-env=TALLYFY_GENERATED_HEADER={}", generated.display());

    if env::var("TALLYFY_UPDATE_HEADER").as_deref() == Ok("1") {
        let checked_in = crate_dir.join("include/tallyfy_files.h");
        // Write only on a change, so that the file's time stamp does not
        // make cargo run this script again on every build.
        if fs::read(&checked_in).ok().as_deref() != Some(header.as_slice()) {
            fs::create_dir_all(crate_dir.join("include")).expect("creating include/");
            fs::write(&checked_in, &header)
                .unwrap_or_else(|e| panic!("writing {}: {e}", checked_in.display()));
        }
    }
}

/// Returns the version macros for the header, from the package version.
fn version_macros() -> String {
    let part = |name: &str| env::var(name).unwrap_or_else(|_| panic!("cargo sets {name}"));
    format!(
        "\n/** The major version of this header; tallyfy_version() returns the library's. */\n\
         #define TALLYFY_VERSION_MAJOR {}\n\
         /** The minor version of this header. */\n\
         #define TALLYFY_VERSION_MINOR {}\n\
         /** The patch version of this header. */\n\
         #define TALLYFY_VERSION_PATCH {}\n\
         /** The version of this header as a string, such as \"0.1.0\". */\n\
         #define TALLYFY_VERSION \"{}\"\n",
        part("CARGO_PKG_VERSION_MAJOR"),
        part("CARGO_PKG_VERSION_MINOR"),
        part("CARGO_PKG_VERSION_PATCH"),
        part("CARGO_PKG_VERSION"),
    )
}
