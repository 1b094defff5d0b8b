//! Checks shared by the fuzz targets. Each one panics, which libFuzzer
//! reports as a crash, when a promise of the library is broken.

use std::path::{Component, Path};

/// Decodes header bytes the way the download engine does: UTF-8 when
/// valid, otherwise each byte as the ISO-8859-1 character of that value.
pub fn header_text(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(text) => text.to_string(),
        Err(_) => data.iter().map(|&byte| char::from(byte)).collect(),
    }
}

/// Panics unless `name` is what `sanitize_file_name` promises: one normal
/// path component of at most 255 bytes, with no separator, NUL, control
/// character or `:`, and no trailing dot or space.
pub fn assert_safe_component(name: &str) {
    assert!(!name.is_empty(), "empty name");
    assert!(name.len() <= 255, "{} bytes: {name:?}", name.len());
    assert_ne!(name, ".", "dot name");
    assert_ne!(name, "..", "dot-dot name");
    for forbidden in ['/', '\\', '\0', ':'] {
        assert!(!name.contains(forbidden), "{forbidden:?} in {name:?}");
    }
    assert!(
        !name.chars().any(char::is_control),
        "control character in {name:?}"
    );
    assert!(!name.ends_with('.'), "trailing dot in {name:?}");
    assert!(!name.ends_with(' '), "trailing space in {name:?}");

    let components: Vec<Component<'_>> = Path::new(name).components().collect();
    assert_eq!(components.len(), 1, "components of {name:?}");
    assert!(
        matches!(components[0], Component::Normal(_)),
        "not a normal component: {name:?}"
    );
}
