//! Feeds arbitrary header values to the Content-Disposition parser and
//! checks that any name it finds sanitises to one safe path component.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tallyfy_files::{parse_file_name, sanitize_file_name};
use tallyfy_files_fuzz::{assert_safe_component, header_text};

fuzz_target!(|data: &[u8]| {
    let header = header_text(data);
    if let Some(name) = parse_file_name(&header) {
        assert!(!name.is_empty(), "empty name from {header:?}");
        if let Some(safe) = sanitize_file_name(&name) {
            assert_safe_component(&safe);
        }
    }
});
