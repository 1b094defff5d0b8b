//! Feeds arbitrary names to the file-name sanitiser and checks every
//! promise it makes about the names it returns.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tallyfy_files::sanitize_file_name;
use tallyfy_files_fuzz::assert_safe_component;

fuzz_target!(|name: &str| {
    if let Some(safe) = sanitize_file_name(name) {
        assert_safe_component(&safe);
        assert_eq!(
            sanitize_file_name(&safe).as_deref(),
            Some(safe.as_str()),
            "sanitising twice changes {safe:?}"
        );
    }
});
