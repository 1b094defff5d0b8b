//! Parsing of the `Content-Disposition` response header (RFC 6266).
//!
//! The parser is lenient in the ways real servers need: parameter names in any
//! letter case, a trailing `;`, unquoted values with spaces, and `;` inside
//! quoted strings. An RFC 8187 `filename*` value is preferred over `filename`
//! when it decodes; otherwise `filename` is used.

/// Returns the file name that a `Content-Disposition` header value carries.
///
/// Returns `None` when the header has no usable `filename*` or `filename`
/// parameter. The disposition type (`attachment`, `inline` or any other) does
/// not matter. The name is returned as the server sent it: callers must pass
/// it through [`crate::sanitize_file_name`] before using it as a path.
pub fn parse_file_name(header: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;

    for (name, value) in parameters(header) {
        if name.eq_ignore_ascii_case("filename*") {
            if extended.is_none() {
                extended = decode_ext_value(&value);
            }
        } else if name.eq_ignore_ascii_case("filename") && plain.is_none() {
            plain = Some(value);
        }
    }

    // An empty filename* is no name at all, so filename still counts.
    let usable = |name: &String| !name.is_empty();
    extended.filter(usable).or(plain.filter(usable))
}

/// Splits the header into `(name, value)` parameters, skipping the disposition type.
fn parameters(header: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut rest = match header.find(';') {
        Some(index) => &header[index + 1..],
        None => return params,
    };

    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        if rest.is_empty() {
            break;
        }

        let Some(eq) = rest.find(['=', ';']) else { break };
        if rest.as_bytes()[eq] == b';' {
            // A parameter without a value, such as "attachment; foo; filename=a".
            rest = &rest[eq..];
            continue;
        }
        let name = rest[..eq].trim().to_string();
        rest = rest[eq + 1..].trim_start_matches([' ', '\t']);

        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let (text, consumed) = read_quoted(quoted);
            value = text;
            rest = &quoted[consumed..];
            // Skip anything between the closing quote and the next ';'.
            rest = match rest.find(';') {
                Some(index) => &rest[index..],
                None => "",
            };
        } else {
            let end = rest.find(';').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        params.push((name, value));
    }
    params
}

/// Reads a quoted string after its opening quote, undoing backslash escapes.
///
/// Returns the text and how many bytes were consumed, the closing quote
/// included. An unterminated string runs to the end of the header.
fn read_quoted(input: &str) -> (String, usize) {
    let mut text = String::new();
    let mut chars = input.char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return (text, index + 1),
            '\\' => match chars.next() {
                Some((_, escaped)) => text.push(escaped),
                None => return (text, input.len()),
            },
            _ => text.push(c),
        }
    }
    (text, input.len())
}

/// Decodes an RFC 8187 `ext-value`: `charset'language'percent-encoded-bytes`.
///
/// Supports the UTF-8 and ISO-8859-1 charsets that the RFC requires. Returns
/// `None` for any other charset, a malformed value or bytes that are not
/// valid in the charset, so that the caller falls back to `filename`.
fn decode_ext_value(value: &str) -> Option<String> {
    let mut parts = value.splitn(3, '\'');
    let charset = parts.next()?.trim();
    let _language = parts.next()?;
    let encoded = parts.next()?;

    let bytes = percent_decode(encoded)?;
    if charset.eq_ignore_ascii_case("utf-8") {
        String::from_utf8(bytes).ok()
    } else if charset.eq_ignore_ascii_case("iso-8859-1") {
        // Every ISO-8859-1 byte is the Unicode code point of the same value.
        Some(bytes.into_iter().map(char::from).collect())
    } else {
        None
    }
}

/// Undoes `%XX` escapes. Returns `None` on a malformed escape.
fn percent_decode(input: &str) -> Option<Vec<u8>> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = input.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::parse_file_name;

    #[test]
    fn each_header_form() {
        let cases: &[(&str, Option<&str>)] = &[
            ("attachment; filename=\"report.pdf\"", Some("report.pdf")),
            ("inline; filename=\"report.pdf\"", Some("report.pdf")),
            ("attachment; FileName=\"report.pdf\"", Some("report.pdf")),
            ("attachment; filename=report.pdf;", Some("report.pdf")),
            ("attachment; filename=my report.pdf", Some("my report.pdf")),
            ("attachment; filename=\"a;b.pdf\"", Some("a;b.pdf")),
            (
                "attachment; filename=\"say \\\"hi\\\".txt\"",
                Some("say \"hi\".txt"),
            ),
            (
                "attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf",
                Some("€ rates.pdf"),
            ),
            ("attachment; filename*=utf-8'en'na%C3%AFve.txt", Some("naïve.txt")),
            ("attachment; filename*=iso-8859-1''caf%E9.txt", Some("café.txt")),
            (
                "attachment; filename=\"fallback.pdf\"; filename*=UTF-8''real.pdf",
                Some("real.pdf"),
            ),
            (
                "attachment; filename*=UTF-8''real.pdf; filename=\"fallback.pdf\"",
                Some("real.pdf"),
            ),
            (
                "attachment; filename*=UTF-8''%FF%FE.pdf; filename=\"fallback.pdf\"",
                Some("fallback.pdf"),
            ),
            (
                "attachment; filename*=KOI8-R''x.pdf; filename=\"fallback.pdf\"",
                Some("fallback.pdf"),
            ),
            (
                "attachment; filename*=UTF-8''bad%zz; filename=\"fallback.pdf\"",
                Some("fallback.pdf"),
            ),
            ("attachment; size=10; filename=\"x.pdf\"", Some("x.pdf")),
            ("attachment; flag; filename=\"x.pdf\"", Some("x.pdf")),
            (
                "attachment; filename=\"unterminated.pdf",
                Some("unterminated.pdf"),
            ),
            ("attachment", None),
            ("attachment; filename=\"\"", None),
            ("", None),
        ];
        for (header, expected) in cases {
            assert_eq!(parse_file_name(header).as_deref(), *expected, "header {header:?}");
        }
    }
}
