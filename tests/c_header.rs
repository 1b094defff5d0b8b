//! Checks that the checked-in C header matches what cbindgen generates from
//! the current sources, so that a change to src/ffi cannot ship with a stale
//! `include/tallyfy_files.h`.

use std::fs;
use std::path::Path;

/// The header that build.rs generated into OUT_DIR for this build.
const GENERATED: &str = env!("TALLYFY_GENERATED_HEADER");

#[test]
fn header_matches_cbindgen_output() {
    let checked_in_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/tallyfy_files.h");
    let checked_in = fs::read_to_string(&checked_in_path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", checked_in_path.display()));
    let generated = fs::read_to_string(GENERATED).unwrap_or_else(|e| panic!("reading {GENERATED}: {e}"));

    if checked_in != generated {
        // A header that is a prefix of the other differs just after the shorter one ends.
        let first_difference = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(old, new)| old != new)
            .unwrap_or_else(|| checked_in.lines().count().min(generated.lines().count()))
            + 1;
        panic!(
            "include/tallyfy_files.h is out of date (first difference at line {first_difference}); \
             regenerate it with:\n\n    TALLYFY_UPDATE_HEADER=1 cargo build\n\nand commit the result"
        );
    }
}

#[test]
fn header_has_guards_for_c_and_cpp() {
    let header = fs::read_to_string(GENERATED).unwrap();
    for needed in [
        "#ifndef TALLYFY_FILES_H",
        "#define TALLYFY_FILES_H",
        "#ifdef __cplusplus",
        "extern \"C\" {",
        "#include <stdbool.h>",
        "#include <stddef.h>",
        "#include <stdint.h>",
        "typedef int32_t tallyfy_status;",
        "#define TALLYFY_OK 0",
    ] {
        assert!(header.contains(needed), "the header lacks {needed:?}");
    }
    assert!(header.is_ascii(), "the header contains non-ASCII characters");
}
