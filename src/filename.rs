//! Turning a server-sent file name into one safe path component.

/// The maximum length of a produced file name, in bytes, which most file systems allow.
const MAX_NAME_BYTES: usize = 255;

/// The maximum length of the extension kept when a name is cut, in bytes.
const MAX_EXTENSION_BYTES: usize = 16;

/// Names that Windows reserves for devices, with or without an extension.
const WINDOWS_DEVICE_NAMES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
    "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "CONIN$", "CONOUT$",
];

/// Returns a server-sent file name reduced to one safe path component.
///
/// Keeps only the part after the last `/` or `\`, and drops control
/// characters and invisible formatting characters such as bidirectional
/// overrides. Returns `None` when what is left is empty, `.` or `..`,
/// contains `:`, is a Windows device name (such as `CON` or `nul.txt`), or ends
/// in a dot or a space. A name longer than 255 bytes is cut on a UTF-8
/// character boundary, keeping an extension of up to 16 bytes, and dots or
/// spaces that the cut leaves at the end are removed.
///
/// The result never contains a path separator, so joining it to a folder
/// cannot leave that folder.
pub fn sanitize_file_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|&c| !c.is_control() && !is_invisible_format(c))
        .collect();

    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        return None;
    }
    if cleaned.contains(':') || cleaned.ends_with('.') || cleaned.ends_with(' ') {
        return None;
    }
    if is_windows_device_name(&cleaned) {
        return None;
    }

    // Cutting to length can leave a trailing dot or space, which Windows
    // drops, so trim them and check the shorter name again.
    let cut = truncate_keeping_extension(&cleaned, MAX_NAME_BYTES);
    let cut = cut.trim_end_matches(['.', ' ']);
    if cut.is_empty() || is_windows_device_name(cut) {
        return None;
    }
    Some(cut.to_string())
}

/// Returns the name to use when the server sent none or none is safe.
pub(crate) fn fallback_file_name(file_id: &str) -> String {
    let name = format!("tallyfy-file-{file_id}");
    sanitize_file_name(&name).unwrap_or_else(|| "tallyfy-file".to_string())
}

/// Returns true for invisible formatting characters, such as the right-to-left
/// override that makes `invoice\u{202E}fdp.exe` display as `invoiceexe.pdf`.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
    )
}

fn is_windows_device_name(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    WINDOWS_DEVICE_NAMES
        .iter()
        .any(|device| stem.eq_ignore_ascii_case(device))
}

/// Cuts `name` to at most `max` bytes on a character boundary, keeping a short extension.
fn truncate_keeping_extension(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }

    let extension = match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= MAX_EXTENSION_BYTES => &name[dot..],
        _ => "",
    };
    let stem_budget = max - extension.len();
    let mut cut = stem_budget.min(name.len() - extension.len());
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{}", &name[..cut], extension)
}

/// Returns `name` with ` (n)` inserted before its extension, as in `report (1).pdf`.
pub(crate) fn numbered_file_name(name: &str, number: u32) -> String {
    let suffix = format!(" ({number})");
    let (stem, extension) = match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    };
    let joined = format!("{stem}{suffix}{extension}");
    if joined.len() <= MAX_NAME_BYTES {
        return joined;
    }

    // Shorten the stem so that the number and the extension still fit.
    let mut cut = MAX_NAME_BYTES
        .saturating_sub(suffix.len() + extension.len())
        .min(stem.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}{extension}", &stem[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_plain_names() {
        assert_eq!(sanitize_file_name("report.pdf").as_deref(), Some("report.pdf"));
        assert_eq!(sanitize_file_name("€ rates.pdf").as_deref(), Some("€ rates.pdf"));
        assert_eq!(sanitize_file_name(".bashrc").as_deref(), Some(".bashrc"));
    }

    #[test]
    fn keeps_last_component() {
        assert_eq!(sanitize_file_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(sanitize_file_name("..\\..\\win.ini").as_deref(), Some("win.ini"));
        assert_eq!(sanitize_file_name("/abs/path.txt").as_deref(), Some("path.txt"));
    }

    #[test]
    fn drops_bidi_overrides() {
        assert_eq!(
            sanitize_file_name("invoice\u{202E}fdp.exe").as_deref(),
            Some("invoicefdp.exe")
        );
        assert_eq!(
            sanitize_file_name("a\u{200B}b\u{FEFF}.txt").as_deref(),
            Some("ab.txt")
        );
        assert_eq!(sanitize_file_name("\u{202E}\u{2066}"), None);
    }

    #[test]
    fn drops_control_characters() {
        assert_eq!(sanitize_file_name("a\u{0}b\r\n.txt").as_deref(), Some("ab.txt"));
        assert_eq!(
            sanitize_file_name("x\u{1b}[31m.txt").as_deref(),
            Some("x[31m.txt")
        );
    }

    #[test]
    fn rejects_unsafe_names() {
        for bad in [
            "", ".", "..", "a/", "dir/..", "C:evil", "a:b.txt", "CON", "con.txt", "Lpt1.log", "nul", "name.",
            "name ", "\u{7}",
        ] {
            assert_eq!(sanitize_file_name(bad), None, "accepted {bad:?}");
        }
    }

    #[test]
    fn cuts_long_names_keeping_extension() {
        let long = format!("{}.pdf", "é".repeat(200));
        let cut = sanitize_file_name(&long).unwrap();
        assert!(cut.len() <= 255, "length {}", cut.len());
        assert!(cut.ends_with(".pdf"));
        assert!(cut.starts_with('é'));
    }

    #[test]
    fn fallback_uses_file_id() {
        assert_eq!(fallback_file_name("abc123"), "tallyfy-file-abc123");
    }

    #[test]
    fn numbers_before_extension() {
        assert_eq!(numbered_file_name("report.pdf", 1), "report (1).pdf");
        assert_eq!(numbered_file_name("README", 2), "README (2)");
        assert_eq!(numbered_file_name(".bashrc", 3), ".bashrc (3)");
        let long = format!("{}.pdf", "a".repeat(251));
        let numbered = numbered_file_name(&long, 12);
        assert_eq!(numbered.len(), 255);
        assert!(numbered.ends_with(" (12).pdf"));
    }
}
