//! The library's version, as a string and as header macros.
//!
//! The header's `TALLYFY_VERSION_MAJOR`, `_MINOR` and `_PATCH` macros are
//! written by `build.rs` from Cargo.toml, so they always match the string
//! returned here for the library the header was generated with.

use std::ffi::{c_char, CStr};

/// The version from Cargo.toml, such as "0.1.0", NUL-terminated.
const VERSION: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
    Ok(version) => version,
    Err(_) => panic!("the package version contains a NUL byte"),
};

/// Returns the version of the linked library, such as "0.1.0", as a static
/// NUL-terminated string that must not be freed.
///
/// Compare it with the `TALLYFY_VERSION_*` macros to detect a program built
/// against one version's header but running with another's library.
/// Thread-safe; does not change the last-error detail.
#[no_mangle]
pub extern "C" fn tallyfy_version() -> *const c_char {
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_matches_package() {
        let text = unsafe { std::ffi::CStr::from_ptr(super::tallyfy_version()) };
        assert_eq!(text.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
