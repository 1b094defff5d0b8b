//! The error type of every download, and the stable kinds it maps to.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Detail that the Tallyfy API sent with an error status.
///
/// The API reports errors as JSON such as
/// `{"error":true,"message":"Resource not found","code":"RESOURCE_NOT_FOUND"}`
/// and sometimes an `X-Request-Id` header. Every field is optional because a
/// proxy or a storage host may return HTML or an empty body instead.
/// Control characters in the server's text are replaced by spaces, and the
/// access token by `<redacted>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiErrorDetail {
    /// The HTTP status code, such as 404.
    pub status: u16,
    /// The API's machine-readable `code`, such as `RESOURCE_NOT_FOUND`.
    pub code: Option<String>,
    /// The API's human-readable `message`.
    pub message: Option<String>,
    /// The `X-Request-Id` response header, to quote to Tallyfy support.
    pub request_id: Option<String>,
}

impl ApiErrorDetail {
    /// Formats the code and message for an error message, or an empty string.
    fn summary(&self) -> String {
        let mut out = String::new();
        match (&self.code, &self.message) {
            (Some(code), Some(message)) => out.push_str(&format!(" ({code}: {message})")),
            (Some(code), None) => out.push_str(&format!(" ({code})")),
            (None, Some(message)) => out.push_str(&format!(" ({message})")),
            (None, None) => {}
        }
        if let Some(id) = &self.request_id {
            out.push_str(&format!(" [request id {id}]"));
        }
        out
    }
}

/// The broad class of an [`Error`], stable across releases.
///
/// The C API returns these as `tallyfy_status` codes, so the numbers are part
/// of the ABI: a value is never reused for another meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A caller-supplied value was rejected before any request was sent.
    InvalidArgument = 1,
    /// The server returned 401: the access token is missing, invalid or expired.
    Unauthorized = 2,
    /// The server returned 403: the token has no access to this file.
    Forbidden = 3,
    /// The server returned 404: no such file in this organization.
    NotFound = 4,
    /// The server returned 429: too many requests.
    RateLimited = 5,
    /// The server returned another non-success status.
    HttpStatus = 6,
    /// A connect, stall or overall timeout expired.
    Timeout = 7,
    /// The host name did not resolve, or the connection failed or was reset.
    Connection = 8,
    /// The TLS handshake or certificate verification failed.
    Tls = 9,
    /// The connection ended before the whole body arrived.
    Truncated = 10,
    /// The body is larger than the configured maximum size.
    TooLarge = 11,
    /// The body does not fit in the caller's buffer.
    BufferTooSmall = 12,
    /// The destination file already exists and the caller asked not to replace it.
    DestinationExists = 13,
    /// A local file-system operation failed.
    Io = 14,
    /// The progress callback asked to stop the download.
    AbortedByCallback = 15,
    /// A redirect was refused (downgrade to http, bad location, or too many).
    RedirectRefused = 16,
    /// The caller's writer or write callback failed or took fewer bytes than offered.
    Write = 17,
    /// The server sent a response that is not valid HTTP.
    Protocol = 18,
}

/// Every way a download can fail.
///
/// Messages state what failed, for which file ID and what to do next. They never
/// contain the access token: server-sent text is scrubbed of it before it is
/// stored here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A caller-supplied value was rejected before any request was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The server returned 401.
    #[error(
        "download of file '{file_id}' failed: the server returned 401 Unauthorized{}; check that the access token is valid and not expired",
        .detail.summary()
    )]
    Unauthorized {
        /// The file being downloaded.
        file_id: String,
        /// The API's error detail.
        detail: ApiErrorDetail,
    },

    /// The server returned 403.
    #[error(
        "download of file '{file_id}' failed: the server returned 403 Forbidden{}; check that the token's user can see this file in this organization",
        .detail.summary()
    )]
    Forbidden {
        /// The file being downloaded.
        file_id: String,
        /// The API's error detail.
        detail: ApiErrorDetail,
    },

    /// The server returned 404.
    #[error(
        "download of file '{file_id}' failed: the server returned 404 Not Found{}; check the file ID and the organization ID",
        .detail.summary()
    )]
    NotFound {
        /// The file being downloaded.
        file_id: String,
        /// The API's error detail.
        detail: ApiErrorDetail,
    },

    /// The server returned 429.
    #[error(
        "download of file '{file_id}' failed: the server returned 429 Too Many Requests{}; retry after {}",
        .detail.summary(),
        retry_after_text(.retry_after)
    )]
    RateLimited {
        /// The file being downloaded.
        file_id: String,
        /// The wait that `Retry-After` asked for, when it was sent and valid.
        retry_after: Option<Duration>,
        /// The API's error detail.
        detail: ApiErrorDetail,
    },

    /// The server returned another non-success status.
    #[error(
        "download of file '{file_id}' failed: the server returned HTTP {}{}",
        .detail.status,
        .detail.summary()
    )]
    HttpStatus {
        /// The file being downloaded.
        file_id: String,
        /// The status and the API's error detail.
        detail: ApiErrorDetail,
    },

    /// A connect, stall or overall timeout expired.
    #[error("download of file '{file_id}' failed: {what} timed out; check the network or raise the timeout")]
    Timeout {
        /// The file being downloaded.
        file_id: String,
        /// The phase that timed out, such as "connecting" or "waiting for data".
        what: String,
    },

    /// The host name did not resolve, or the connection failed or was reset.
    #[error("download of file '{file_id}' failed: {message}; check the base URL, proxy and network")]
    Connection {
        /// The file being downloaded.
        file_id: String,
        /// The cause of the failure.
        message: String,
    },

    /// The TLS handshake or certificate verification failed.
    #[error("download of file '{file_id}' failed: TLS error: {message}; check the server certificate or the CA settings")]
    Tls {
        /// The file being downloaded.
        file_id: String,
        /// The cause of the failure.
        message: String,
    },

    /// The connection ended before the whole body arrived.
    #[error(
        "download of file '{file_id}' failed: the connection ended after {received} bytes{}; retry the download",
        expected_text(.expected)
    )]
    Truncated {
        /// The file being downloaded.
        file_id: String,
        /// The size the server declared in `Content-Length`, when it did.
        expected: Option<u64>,
        /// How many body bytes arrived.
        received: u64,
    },

    /// The body is larger than the configured maximum size.
    #[error(
        "download of file '{file_id}' failed: the file is larger than the maximum of {limit} bytes{}; raise the maximum size",
        size_text(.size)
    )]
    TooLarge {
        /// The file being downloaded.
        file_id: String,
        /// The maximum size in bytes.
        limit: u64,
        /// The size the server declared, when it did.
        size: Option<u64>,
    },

    /// The body does not fit in the caller's buffer.
    #[error(
        "download of file '{file_id}' failed: the file does not fit in a buffer of {capacity} bytes{}; pass a larger buffer",
        needed_text(.needed)
    )]
    BufferTooSmall {
        /// The file being downloaded.
        file_id: String,
        /// The buffer's size in bytes.
        capacity: u64,
        /// The size the server declared, when it did.
        needed: Option<u64>,
    },

    /// The destination already exists and the caller asked not to replace it.
    #[error("destination '{}' already exists; choose another path or allow replacing it", .path.display())]
    DestinationExists {
        /// The existing file.
        path: PathBuf,
    },

    /// A local file-system operation failed.
    #[error("{action} '{}' failed: {source}", .path.display())]
    Io {
        /// The operation that failed, such as "creating a temporary file in".
        action: &'static str,
        /// The file or folder involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The progress callback asked to stop the download.
    #[error("download of file '{file_id}' was stopped by the progress callback")]
    AbortedByCallback {
        /// The file being downloaded.
        file_id: String,
    },

    /// A redirect was refused.
    #[error("download of file '{file_id}' failed: redirect refused: {reason}")]
    RedirectRefused {
        /// The file being downloaded.
        file_id: String,
        /// The reason the redirect was rejected.
        reason: String,
    },

    /// The caller's writer failed or took fewer bytes than offered.
    #[error("download of file '{file_id}' failed: the destination writer failed: {source}")]
    Write {
        /// The file being downloaded.
        file_id: String,
        /// The writer's error.
        #[source]
        source: io::Error,
    },

    /// The server sent a response that is not valid HTTP.
    #[error("download of file '{file_id}' failed: invalid HTTP response: {message}")]
    Protocol {
        /// The file being downloaded.
        file_id: String,
        /// The defect in the response.
        message: String,
    },
}

fn retry_after_text(value: &Option<Duration>) -> String {
    match value {
        Some(wait) => format!("{} seconds", wait.as_secs()),
        None => "a while".to_string(),
    }
}

fn expected_text(value: &Option<u64>) -> String {
    match value {
        Some(expected) => format!(" of {expected}"),
        None => String::new(),
    }
}

fn size_text(value: &Option<u64>) -> String {
    match value {
        Some(size) => format!(" (it is {size} bytes)"),
        None => String::new(),
    }
}

fn needed_text(value: &Option<u64>) -> String {
    match value {
        Some(needed) => format!(" ({needed} bytes needed)"),
        None => String::new(),
    }
}

impl Error {
    /// Returns the stable kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Error::Unauthorized { .. } => ErrorKind::Unauthorized,
            Error::Forbidden { .. } => ErrorKind::Forbidden,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::RateLimited { .. } => ErrorKind::RateLimited,
            Error::HttpStatus { .. } => ErrorKind::HttpStatus,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Connection { .. } => ErrorKind::Connection,
            Error::Tls { .. } => ErrorKind::Tls,
            Error::Truncated { .. } => ErrorKind::Truncated,
            Error::TooLarge { .. } => ErrorKind::TooLarge,
            Error::BufferTooSmall { .. } => ErrorKind::BufferTooSmall,
            Error::DestinationExists { .. } => ErrorKind::DestinationExists,
            Error::Io { .. } => ErrorKind::Io,
            Error::AbortedByCallback { .. } => ErrorKind::AbortedByCallback,
            Error::RedirectRefused { .. } => ErrorKind::RedirectRefused,
            Error::Write { .. } => ErrorKind::Write,
            Error::Protocol { .. } => ErrorKind::Protocol,
        }
    }

    /// Returns what the API sent with an error status, for the status kinds.
    pub fn api_detail(&self) -> Option<&ApiErrorDetail> {
        match self {
            Error::Unauthorized { detail, .. }
            | Error::Forbidden { detail, .. }
            | Error::NotFound { detail, .. }
            | Error::RateLimited { detail, .. }
            | Error::HttpStatus { detail, .. } => Some(detail),
            _ => None,
        }
    }

    /// Returns the HTTP status of an error response, when there was one.
    pub fn http_status(&self) -> Option<u16> {
        self.api_detail().map(|detail| detail.status)
    }

    /// Returns the operating system's error number, for local I/O and writer errors.
    pub fn os_error(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } | Error::Write { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// Returns the size the server declared, for a buffer that was too small.
    pub fn needed_size(&self) -> Option<u64> {
        match self {
            Error::BufferTooSmall { needed, .. } => *needed,
            _ => None,
        }
    }

    /// Replaces every copy of `secret` in the error's text with `<redacted>`.
    ///
    /// Server-controlled text reaches errors by several routes (the API's
    /// JSON, headers, a `Location`, the names in a TLS certificate), so every
    /// download error passes through here before anyone sees it. Paths and
    /// operating-system errors belong to the caller and are kept as they are.
    pub(crate) fn redact(self, secret: &str) -> Error {
        if secret.is_empty() {
            return self;
        }
        let scrub = |text: String| {
            if text.contains(secret) {
                text.replace(secret, "<redacted>")
            } else {
                text
            }
        };
        let scrub_detail = |detail: ApiErrorDetail| ApiErrorDetail {
            status: detail.status,
            code: detail.code.map(scrub),
            message: detail.message.map(scrub),
            request_id: detail.request_id.map(scrub),
        };

        match self {
            Error::InvalidArgument(message) => Error::InvalidArgument(scrub(message)),
            Error::Unauthorized { file_id, detail } => Error::Unauthorized {
                file_id: scrub(file_id),
                detail: scrub_detail(detail),
            },
            Error::Forbidden { file_id, detail } => Error::Forbidden {
                file_id: scrub(file_id),
                detail: scrub_detail(detail),
            },
            Error::NotFound { file_id, detail } => Error::NotFound {
                file_id: scrub(file_id),
                detail: scrub_detail(detail),
            },
            Error::RateLimited {
                file_id,
                retry_after,
                detail,
            } => Error::RateLimited {
                file_id: scrub(file_id),
                retry_after,
                detail: scrub_detail(detail),
            },
            Error::HttpStatus { file_id, detail } => Error::HttpStatus {
                file_id: scrub(file_id),
                detail: scrub_detail(detail),
            },
            Error::Timeout { file_id, what } => Error::Timeout {
                file_id: scrub(file_id),
                what: scrub(what),
            },
            Error::Connection { file_id, message } => Error::Connection {
                file_id: scrub(file_id),
                message: scrub(message),
            },
            Error::Tls { file_id, message } => Error::Tls {
                file_id: scrub(file_id),
                message: scrub(message),
            },
            Error::Truncated {
                file_id,
                expected,
                received,
            } => Error::Truncated {
                file_id: scrub(file_id),
                expected,
                received,
            },
            Error::TooLarge { file_id, limit, size } => Error::TooLarge {
                file_id: scrub(file_id),
                limit,
                size,
            },
            Error::BufferTooSmall {
                file_id,
                capacity,
                needed,
            } => Error::BufferTooSmall {
                file_id: scrub(file_id),
                capacity,
                needed,
            },
            Error::AbortedByCallback { file_id } => Error::AbortedByCallback {
                file_id: scrub(file_id),
            },
            Error::RedirectRefused { file_id, reason } => Error::RedirectRefused {
                file_id: scrub(file_id),
                reason: scrub(reason),
            },
            Error::Write { file_id, source } => Error::Write {
                file_id: scrub(file_id),
                source,
            },
            Error::Protocol { file_id, message } => Error::Protocol {
                file_id: scrub(file_id),
                message: scrub(message),
            },
            kept @ (Error::DestinationExists { .. } | Error::Io { .. }) => kept,
        }
    }

    /// Returns true when the error may go away if the same download is tried again.
    ///
    /// Rate limiting, 502, 503 and 504 statuses, timeouts, failed connections
    /// and truncated bodies are transient. Other statuses, TLS failures, invalid
    /// arguments and local I/O errors are not.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::RateLimited { .. }
            | Error::Timeout { .. }
            | Error::Connection { .. }
            | Error::Truncated { .. } => true,
            Error::HttpStatus { detail, .. } => matches!(detail.status, 502..=504),
            _ => false,
        }
    }
}
