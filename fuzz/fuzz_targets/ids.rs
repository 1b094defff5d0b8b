//! Feeds arbitrary IDs to validation and checks that an accepted ID stays
//! exactly one path segment of the request URL.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tallyfy_files::validate_id;

fuzz_target!(|id: &str| {
    if validate_id("file ID", id).is_err() {
        return;
    }
    assert!(!id.is_empty(), "empty ID accepted");
    assert!(id.len() <= 256, "length {}", id.len());
    assert_ne!(id, ".", "dot ID accepted");
    assert_ne!(id, "..", "dot-dot ID accepted");
    for forbidden in ['/', '\\', '?', '#', '%'] {
        assert!(!id.contains(forbidden), "{forbidden:?} in {id:?}");
    }

    let mut url = url::Url::parse("http://127.0.0.1/api/organizations/org1/file").unwrap();
    url.path_segments_mut().unwrap().push(id).push("dl");
    let reparsed = url::Url::parse(url.as_str()).unwrap();
    let segments: Vec<&str> = reparsed.path_segments().unwrap().collect();
    assert_eq!(segments.len(), 6, "segments of {reparsed}");
    assert!(reparsed.query().is_none(), "query in {reparsed}");
    assert!(reparsed.fragment().is_none(), "fragment in {reparsed}");
});
