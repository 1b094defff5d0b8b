//! File information from a finished download, as a struct that C reads directly.

use std::ffi::{c_char, CString};
use std::path::Path;

use crate::request::FileInfo;

use super::boundary::guard;

/// Information about a finished download, returned through the `out_info`
/// argument of the download functions and freed with `tallyfy_file_info_free`.
///
/// Every string is NUL-terminated UTF-8 owned by the info and lives until
/// the info is freed. Read the fields through the pointer the library
/// returned: never allocate, copy or change a `tallyfy_file_info` yourself,
/// because later versions may append fields.
///
/// Thread-safety: may be moved between threads and read from several at once.
#[repr(C)]
pub struct tallyfy_file_info {
    /// The file name, made safe to use as one path component: the server's
    /// name without folders, control characters or device names, or
    /// `tallyfy-file-<file ID>` when the server sent no usable name. For a
    /// folder download, the name the file was saved under. Never NULL.
    pub file_name: *const c_char,
    /// The file name exactly as the server sent it in Content-Disposition,
    /// or NULL when it sent none. Do not use it as a path.
    pub server_file_name: *const c_char,
    /// The Content-Type header, or NULL when the server sent none.
    pub content_type: *const c_char,
    /// The path the file was saved at, for downloads to a path or a folder,
    /// or NULL for the other destinations.
    pub path: *const c_char,
    /// The number of body bytes delivered.
    pub size: u64,
    /// The HTTP status of the final response, such as 200.
    pub http_status: u16,
}

/// The info as allocated: the public part first, then the strings it points into.
///
/// `repr(C)` puts `public` at offset 0, so a pointer to the whole is also a
/// pointer to `public` and converts back in `tallyfy_file_info_free`.
#[repr(C)]
struct OwnedFileInfo {
    public: tallyfy_file_info,
    strings: Vec<CString>,
}

/// Copies text into a C string, dropping NUL characters, which cannot be
/// represented.
fn c_string(bytes: Vec<u8>) -> CString {
    CString::new(bytes).unwrap_or_else(|e| {
        let bytes: Vec<u8> = e.into_vec().into_iter().filter(|&b| b != 0).collect();
        CString::new(bytes).expect("NUL bytes were removed")
    })
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().into_owned().into_bytes()
}

/// Moves a core `FileInfo` to the heap in its C form. The caller owns the
/// result and frees it with `tallyfy_file_info_free`.
pub(crate) fn into_raw(info: FileInfo) -> *mut tallyfy_file_info {
    let mut strings = Vec::with_capacity(4);
    let mut keep = |bytes: Option<Vec<u8>>| match bytes {
        Some(bytes) => {
            let text = c_string(bytes);
            // A CString's buffer does not move when the CString does, so the
            // pointer stays valid inside `strings`.
            let pointer = text.as_ptr();
            strings.push(text);
            pointer
        }
        None => std::ptr::null(),
    };

    let public = tallyfy_file_info {
        file_name: keep(Some(info.file_name.into_bytes())),
        server_file_name: keep(info.server_file_name.map(String::into_bytes)),
        content_type: keep(info.content_type.map(String::into_bytes)),
        path: keep(info.path.as_deref().map(path_bytes)),
        size: info.size,
        http_status: info.status,
    };
    Box::into_raw(Box::new(OwnedFileInfo { public, strings })).cast()
}

/// Frees a file info returned by a download function, with its strings.
/// NULL is a no-op.
#[no_mangle]
pub extern "C" fn tallyfy_file_info_free(info: *mut tallyfy_file_info) {
    guard((), || {
        if !info.is_null() {
            // SAFETY: every non-NULL info the library hands out is the first
            // field of a boxed OwnedFileInfo made by into_raw, and the header
            // requires it to be freed once.
            drop(unsafe { Box::from_raw(info.cast::<OwnedFileInfo>()) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn info_round_trips() {
        let info = FileInfo {
            file_name: "report.pdf".to_string(),
            server_file_name: Some("../report.pdf".to_string()),
            content_type: None,
            size: 42,
            status: 200,
            path: Some("/tmp/report.pdf".into()),
        };
        let raw = into_raw(info);
        let public = unsafe { &*raw };
        let text = |pointer: *const c_char| unsafe { CStr::from_ptr(pointer) }.to_str().unwrap();
        assert_eq!(text(public.file_name), "report.pdf");
        assert_eq!(text(public.server_file_name), "../report.pdf");
        assert!(public.content_type.is_null());
        assert_eq!(text(public.path), "/tmp/report.pdf");
        assert_eq!(public.size, 42);
        assert_eq!(public.http_status, 200);
        tallyfy_file_info_free(raw);
    }
}
