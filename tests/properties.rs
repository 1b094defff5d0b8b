//! Property tests for the functions that take text from a server or a
//! caller: the Content-Disposition parser, the file-name sanitiser and ID
//! validation. None may panic, and what they accept must be safe to use.

use std::path::{Component, Path};

use proptest::prelude::*;
use tallyfy_files::{parse_file_name, sanitize_file_name, validate_id};

/// Text built from the pieces that make file names and headers dangerous,
/// mixed with arbitrary characters.
fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/".to_string()),
        Just("\\".to_string()),
        Just("..".to_string()),
        Just(".".to_string()),
        Just(":".to_string()),
        Just("\0".to_string()),
        Just(" ".to_string()),
        Just("\"".to_string()),
        Just(";".to_string()),
        Just("=".to_string()),
        Just("%".to_string()),
        Just("'".to_string()),
        Just("*".to_string()),
        Just("CON".to_string()),
        Just("nul".to_string()),
        Just("filename".to_string()),
        Just("filename*".to_string()),
        Just("UTF-8''".to_string()),
        Just("%2F".to_string()),
        Just("%E2%82%AC".to_string()),
        Just("\u{202e}".to_string()),
        Just("é".to_string()),
        Just("€".to_string()),
        Just("\r\n".to_string()),
        "[a-z]{1,20}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

/// Any text: arbitrary strings, hostile pieces, and long names past 255 bytes.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        hostile_text(),
        "[a-zé. ]{200,400}(\\.[a-z]{1,20})?",
        "[ .]{0,5}[a-z]{240,260}[ .]{1,3}[a-z]{1,30}",
    ]
}

/// Checks every promise `sanitize_file_name` makes about a name it returns.
fn assert_safe_component(name: &str) -> Result<(), TestCaseError> {
    prop_assert!(!name.is_empty(), "empty name");
    prop_assert!(name.len() <= 255, "{} bytes: {name:?}", name.len());
    prop_assert_ne!(name, ".", "dot name");
    prop_assert_ne!(name, "..", "dot-dot name");
    for forbidden in ['/', '\\', '\0', ':'] {
        prop_assert!(!name.contains(forbidden), "{forbidden:?} in {name:?}");
    }
    prop_assert!(
        !name.chars().any(char::is_control),
        "control character in {name:?}"
    );
    prop_assert!(!name.ends_with('.'), "trailing dot in {name:?}");
    prop_assert!(!name.ends_with(' '), "trailing space in {name:?}");

    // The name is exactly one normal component, and joining it to a folder
    // stays in that folder.
    let components: Vec<Component<'_>> = Path::new(name).components().collect();
    prop_assert_eq!(components.len(), 1, "components of {:?}", name);
    prop_assert!(
        matches!(components[0], Component::Normal(_)),
        "not a normal component: {name:?}"
    );
    let joined = Path::new("/downloads").join(name);
    prop_assert_eq!(
        joined.parent(),
        Some(Path::new("/downloads")),
        "{:?} leaves the folder",
        name
    );
    Ok(())
}

proptest! {
    // Failures are not saved to a regressions file; each one found so far
    // has its own plain test below.
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn sanitized_name_is_one_safe_component(name in any_text()) {
        if let Some(safe) = sanitize_file_name(&name) {
            assert_safe_component(&safe)?;
            prop_assert_eq!(sanitize_file_name(&safe), Some(safe.clone()), "sanitising twice changes {:?}", safe);
        }
    }

    #[test]
    fn parse_file_name_never_panics(header in any_text()) {
        if let Some(name) = parse_file_name(&header) {
            prop_assert!(!name.is_empty(), "empty name from {header:?}");
            if let Some(safe) = sanitize_file_name(&name) {
                assert_safe_component(&safe)?;
            }
        }
    }

    #[test]
    fn parse_file_name_handles_header_shapes(
        disposition in "(attachment|inline|ATTACHMENT|form-data|)",
        name in hostile_text(),
        extended in any::<bool>(),
        spacing in "[ \t]{0,2}",
    ) {
        let header = if extended {
            format!("{disposition};{spacing}filename*=UTF-8''{}", percent_encode(&name))
        } else {
            format!("{disposition};{spacing}filename=\"{}\"", quote(&name))
        };
        let parsed = parse_file_name(&header);
        if name.is_empty() {
            prop_assert_eq!(parsed, None, "empty name in {:?}", header);
        } else {
            prop_assert_eq!(parsed.as_deref(), Some(name.as_str()), "header {:?}", header);
        }
    }

    #[test]
    fn quoted_and_extended_names_round_trip(name in any::<String>()) {
        let quoted = format!("attachment; filename=\"{}\"", quote(&name));
        let extended = format!("attachment; filename=\"fallback.bin\"; filename*=utf-8'en'{}", percent_encode(&name));
        let expected = if name.is_empty() { None } else { Some(name.clone()) };
        prop_assert_eq!(parse_file_name(&quoted), expected.clone(), "quoted form");
        let expected_extended = expected.or(Some("fallback.bin".to_string()));
        prop_assert_eq!(parse_file_name(&extended), expected_extended, "extended form");
    }

    #[test]
    fn validated_id_is_one_url_segment(id in any_text()) {
        if validate_id("file ID", &id).is_ok() {
            prop_assert!(!id.is_empty(), "empty ID accepted");
            prop_assert!(id.len() <= 256, "length {}", id.len());
            prop_assert_ne!(id.as_str(), ".", "dot ID accepted");
            prop_assert_ne!(id.as_str(), "..", "dot-dot ID accepted");
            for forbidden in ['/', '\\', '?', '#', '%'] {
                prop_assert!(!id.contains(forbidden), "{forbidden:?} in {id:?}");
            }
            prop_assert!(!id.chars().any(|c| c.is_whitespace() || c.is_control()), "space or control in {id:?}");

            // Built into a URL and parsed back, as a server would, the ID
            // is still exactly the last segment.
            let mut url = url::Url::parse("http://127.0.0.1/api/organizations/org1/file").unwrap();
            url.path_segments_mut().unwrap().push(&id).push("dl");
            let reparsed = url::Url::parse(url.as_str()).unwrap();
            let segments: Vec<&str> = reparsed.path_segments().unwrap().collect();
            prop_assert_eq!(segments.len(), 6, "segments of {}", reparsed);
            prop_assert_eq!(percent_decode(segments[4]), id.clone(), "the ID segment of {}", reparsed);
            prop_assert!(reparsed.query().is_none(), "query in {}", reparsed);
            prop_assert!(reparsed.fragment().is_none(), "fragment in {}", reparsed);
        }
    }
}

#[test]
fn cut_name_loses_trailing_dot() {
    // The extension is too long to keep, so the cut ends in ". ".
    let name = format!("  . {}. .{}", "a".repeat(248), "a".repeat(16));
    let safe = sanitize_file_name(&name).expect("a usable name");
    assert!(!safe.ends_with('.'), "trailing dot in {safe:?}");
    assert!(!safe.ends_with(' '), "trailing space in {safe:?}");
    assert!(safe.len() <= 255, "{} bytes", safe.len());
}

#[test]
fn cut_name_that_becomes_device_name() {
    // Cut to 255 bytes and trimmed, this would be "CON".
    let name = format!("CON{}x", " ".repeat(300));
    assert_eq!(sanitize_file_name(&name), None);
}

#[test]
fn empty_extended_name_falls_back() {
    let header = "attachment; filename=\"fallback.bin\"; filename*=utf-8'en'";
    assert_eq!(parse_file_name(header).as_deref(), Some("fallback.bin"));
}

#[test]
fn validate_id_errors_name_the_value() {
    let err = validate_id("file ID", "a/b").unwrap_err();
    assert!(
        err.to_string().contains("file ID"),
        "message names the field: {err}"
    );
}

/// Escapes `"` and `\` for a quoted-string.
fn quote(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Percent-encodes every byte outside the RFC 8187 attr-chars.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
                (byte as char).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 3 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or("");
            if let Ok(byte) = u8::from_str_radix(hex, 16) {
                out.push(byte);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
