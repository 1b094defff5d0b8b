//! The transfer engine: send the request, follow redirects, retry, and stream
//! the body into a sink.

use std::io::Read;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use ureq::http::{HeaderMap, Response};
use ureq::Body;
use url::Url;

use crate::client::ClientInner;
use crate::disposition::parse_file_name;
use crate::error::{ApiErrorDetail, Error};
use crate::filename::{fallback_file_name, sanitize_file_name};
use crate::ids::validate_id;
use crate::redirect::{is_redirect, next_url, redact_url, same_origin};
use crate::request::{Download, FileInfo, Mode, ProgressFn};
use crate::retry::parse_retry_after;
use crate::sink::Sink;

/// The size of the buffer the body is read into before it goes to a sink.
///
/// Writing 1 MiB at a time to a file is much faster than the 8 KiB that
/// `io::copy` uses. A small file gets a buffer of its own size.
const COPY_BUFFER_SIZE: usize = 1024 * 1024;

/// The longest time spent filling the copy buffer before its bytes go to
/// the sink and the progress callback.
const MAX_FILL_TIME: Duration = Duration::from_millis(100);

/// How much of an error body is read for the API's JSON detail.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// File details from the final response's headers.
#[derive(Debug, Clone)]
pub(crate) struct ResponseMeta {
    pub(crate) status: u16,
    /// The declared size of the whole file, when known.
    pub(crate) content_length: Option<u64>,
    pub(crate) content_type: Option<String>,
    pub(crate) server_file_name: Option<String>,
    /// The safe file name: sanitised from the server's, or built from the file ID.
    pub(crate) file_name: String,
    /// The `If-Range` value that allows resuming, when the server offered ranges.
    pub(crate) resume_validator: Option<String>,
}

/// Progress of one download across its attempts.
struct TransferState<'p, 'a> {
    file_id: String,
    received: u64,
    begun: bool,
    meta: Option<ResponseMeta>,
    progress: Option<&'p mut Box<ProgressFn<'a>>>,
    max_size: Option<u64>,
}

/// Runs a download into `sink`, with retries, and returns what it delivered.
pub(crate) fn run(mut download: Download<'_>, sink: &mut dyn Sink) -> Result<FileInfo, Error> {
    let client = download.client.inner.clone();
    let file_id = download.file_id.clone();
    let started = Instant::now();

    let result = (|| {
        let url = build_url(&client, &download)?;
        debug!("download {file_id}: GET {}", redact_url(&url));

        let mut state = TransferState {
            file_id: file_id.clone(),
            received: 0,
            begun: false,
            meta: None,
            progress: download.progress.as_mut(),
            max_size: download.max_size,
        };
        run_with_retries(&client, &url, &mut state, sink, started)
    })();
    let result = result.map_err(|err| err.redact(&client.token));

    match &result {
        Ok(info) => info!(
            "download {file_id}: finished, {} bytes, status {}, {} ms",
            info.size,
            info.status,
            started.elapsed().as_millis()
        ),
        Err(err) => warn!(
            "download {file_id}: failed after {} ms: {err}",
            started.elapsed().as_millis()
        ),
    }
    result
}

/// Validates the IDs and builds the endpoint URL for this download.
fn build_url(client: &ClientInner, download: &Download<'_>) -> Result<Url, Error> {
    validate_id("file ID", &download.file_id)?;
    let org_id = download
        .org_id
        .as_deref()
        .or(client.org_id.as_deref())
        .ok_or_else(|| {
            Error::InvalidArgument("no organization ID: set one on the client or on the download".to_string())
        })?;
    validate_id("organization ID", org_id)?;

    let mut url = client.base_url.clone();
    {
        let mut segments = url
            .path_segments_mut()
            .map_err(|_| Error::InvalidArgument("the base URL cannot take a path".to_string()))?;
        segments.pop_if_empty();
        segments.extend(["organizations", org_id, "file", &download.file_id]);
        if download.mode == Mode::Attachment {
            segments.push("dl");
        }
    }
    Ok(url)
}

fn run_with_retries(
    client: &ClientInner,
    url: &Url,
    state: &mut TransferState<'_, '_>,
    sink: &mut dyn Sink,
    started: Instant,
) -> Result<FileInfo, Error> {
    let policy = client.retry;
    // A deadline beyond the end of the clock, such as Duration::MAX, sets no limit.
    let deadline = client.deadline.and_then(|limit| started.checked_add(limit));
    let mut waited = Duration::ZERO;
    let mut attempt = 1;

    loop {
        let err = match attempt_once(client, url, state, sink, deadline) {
            Ok(info) => return Ok(info),
            // Redacted here already, because the retry below logs it.
            Err(err) => err.redact(&client.token),
        };

        if !err.is_transient() || attempt >= policy.max_attempts.max(1) {
            return Err(err);
        }

        // A 429 gives its wait in Retry-After. Every other failure backs off.
        let wait = match &err {
            Error::RateLimited {
                retry_after: Some(wait),
                ..
            } => *wait,
            _ => policy.backoff(attempt),
        };
        // Saturating and checked sums, because a server's Retry-After or a
        // caller's back-off may be near Duration::MAX.
        if wait > policy.max_wait || waited.saturating_add(wait) > policy.max_total_wait {
            return Err(err);
        }
        if let Some(deadline) = deadline {
            let resumes_at = Instant::now().checked_add(wait);
            if resumes_at.is_none_or(|at| at >= deadline) {
                return Err(err);
            }
        }

        // Bytes already in the sink must be resumed or thrown away.
        if state.received > 0 && resume_validator(state).is_none() {
            if !sink.restart(&state.file_id)? {
                return Err(err);
            }
            state.received = 0;
        }

        warn!(
            "download {}: attempt {attempt} failed ({err}); retrying in {} ms",
            state.file_id,
            wait.as_millis()
        );
        std::thread::sleep(wait);
        waited += wait;
        attempt += 1;
    }
}

fn resume_validator(state: &TransferState<'_, '_>) -> Option<String> {
    state.meta.as_ref()?.resume_validator.clone()
}

/// Makes one request and streams its body, resuming from `state.received`
/// when the server allows it.
fn attempt_once(
    client: &ClientInner,
    url: &Url,
    state: &mut TransferState<'_, '_>,
    sink: &mut dyn Sink,
    deadline: Option<Instant>,
) -> Result<FileInfo, Error> {
    let range = match resume_validator(state) {
        Some(validator) if state.received > 0 => Some((state.received, validator)),
        _ => None,
    };

    let mut response = open(client, url, &state.file_id, range.as_ref(), deadline)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();

    // A resumed request continues only on a 206 whose range starts where
    // the sink stopped; a full 200 body replaces what the sink holds.
    let mut resumed = false;
    if let Some((offset, _)) = &range {
        let total = state.meta.as_ref().and_then(|meta| meta.content_length);
        if status == 206 && content_range_matches(&headers, *offset, total) {
            resumed = true;
            debug!("download {}: resuming at byte {offset}", state.file_id);
        } else if status == 206 {
            if let Some(meta) = state.meta.as_mut() {
                meta.resume_validator = None;
            }
            return Err(Error::Truncated {
                file_id: state.file_id.clone(),
                expected: total,
                received: state.received,
            });
        } else {
            if !sink.restart(&state.file_id)? {
                // The sink cannot take a fresh body, and asking for the
                // range again would only meet the same answer.
                if let Some(meta) = state.meta.as_mut() {
                    meta.resume_validator = None;
                }
                return Err(Error::Truncated {
                    file_id: state.file_id.clone(),
                    expected: total,
                    received: state.received,
                });
            }
            state.received = 0;
        }
    } else if status == 206 {
        return Err(Error::Protocol {
            file_id: state.file_id.clone(),
            message: "the server sent a partial response (206) that was not asked for".to_string(),
        });
    }

    if !resumed {
        // ureq reports no length for `Content-Length: 0`, which still
        // declares an empty body of known size, unless a Transfer-Encoding
        // overrides it and the body's size is unknown.
        let content_length = response.body().content_length().or_else(|| {
            header_text(&headers, "content-length")
                .filter(|value| value.trim() == "0" && !headers.contains_key("transfer-encoding"))
                .map(|_| 0)
        });
        let meta = response_meta(&state.file_id, status, &headers, content_length);
        check_declared_size(state, &meta)?;
        if !state.begun {
            sink.begin(&state.file_id, &meta)?;
            state.begun = true;
        }
        state.meta = Some(meta);
    }

    let meta = state.meta.clone().expect("meta is set before the body");
    report_progress(state, meta.content_length)?;

    let mut reader = response.body_mut().as_reader();
    stream_body(&mut reader, state, sink, meta.content_length)?;
    drop(reader);

    let path = sink.finish(&state.file_id, &meta)?;
    Ok(FileInfo {
        file_name: sink.saved_name().unwrap_or_else(|| meta.file_name.clone()),
        server_file_name: meta.server_file_name.clone(),
        content_type: meta.content_type.clone(),
        size: state.received,
        status: meta.status,
        path,
    })
}

/// Fails early when the declared size is above the maximum.
fn check_declared_size(state: &TransferState<'_, '_>, meta: &ResponseMeta) -> Result<(), Error> {
    match (state.max_size, meta.content_length) {
        (Some(limit), Some(length)) if length > limit => Err(Error::TooLarge {
            file_id: state.file_id.clone(),
            limit,
            size: Some(length),
        }),
        _ => Ok(()),
    }
}

/// Sends the GET and follows redirects. Returns the first successful response.
fn open(
    client: &ClientInner,
    url: &Url,
    file_id: &str,
    range: Option<&(u64, String)>,
    deadline: Option<Instant>,
) -> Result<Response<Body>, Error> {
    let mut current = url.clone();
    let mut redirects = 0;

    loop {
        let mut request = client
            .agent
            .get(current.as_str())
            .header("X-Tallyfy-Client", client.client_header.as_str());

        // The token goes only to the origin it was meant for.
        if same_origin(&current, url) {
            request = request.header("Authorization", format!("Bearer {}", client.token));
        }
        if let Some((offset, validator)) = range {
            request = request
                .header("Range", format!("bytes={offset}-"))
                .header("If-Range", validator.as_str());
        }
        if let Some(deadline) = deadline {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Error::Timeout {
                    file_id: file_id.to_string(),
                    what: "the overall deadline".to_string(),
                });
            }
            request = request.config().timeout_global(Some(remaining)).build();
        }

        let mut response = request.call().map_err(|e| transport_error(file_id, e))?;
        let status = response.status().as_u16();

        if is_redirect(status) {
            let location = response
                .headers()
                .get("location")
                .and_then(|value| value.to_str().ok())
                .ok_or_else(|| Error::RedirectRefused {
                    file_id: file_id.to_string(),
                    reason: format!("the server returned {status} without a usable Location header"),
                })?;
            // A hostile server may echo the token into the location, which
            // must reach neither the error nor the log.
            let scrub = |text: String| text.replace(client.token.as_str(), "<redacted>");
            let next = next_url(&current, location).map_err(|reason| Error::RedirectRefused {
                file_id: file_id.to_string(),
                reason: scrub(reason),
            })?;
            if redirects >= client.max_redirects {
                return Err(Error::RedirectRefused {
                    file_id: file_id.to_string(),
                    reason: format!("more than {} redirects", client.max_redirects),
                });
            }
            debug!(
                "download {file_id}: {status} redirect to {}",
                scrub(redact_url(&next))
            );
            redirects += 1;
            current = next;
            continue;
        }

        // 200 carries the file and 206 a requested range. Other 2xx statuses,
        // such as 202 Accepted or 204 No Content, carry no file at all.
        if matches!(status, 200 | 203 | 206) {
            return Ok(response);
        }
        return Err(status_error(client, file_id, &mut response));
    }
}

/// Builds the error for a non-success status from its headers and at most
/// 64 KiB of its body. The body never reaches the sink.
fn status_error(client: &ClientInner, file_id: &str, response: &mut Response<Body>) -> Error {
    let status = response.status().as_u16();
    let headers = response.headers().clone();

    let mut body = Vec::new();
    let _ = response
        .body_mut()
        .as_reader()
        .take(MAX_ERROR_BODY)
        .read_to_end(&mut body);

    // Control characters in the server's text become spaces before the token
    // is scrubbed. The C layer drops NULs, which would rejoin a token that the
    // server split with one, and escape sequences must not reach a terminal.
    let scrub = |text: String| {
        let flat: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        flat.replace(client.token.as_str(), "<redacted>")
    };
    let (code, message) = parse_api_error(&body);
    let detail = ApiErrorDetail {
        status,
        code: code.map(scrub),
        message: message.map(scrub),
        request_id: header_text(&headers, "x-request-id").map(scrub),
    };
    let file_id = file_id.to_string();

    match status {
        401 => Error::Unauthorized { file_id, detail },
        403 => Error::Forbidden { file_id, detail },
        404 => Error::NotFound { file_id, detail },
        429 => Error::RateLimited {
            file_id,
            retry_after: header_text(&headers, "retry-after").and_then(|value| parse_retry_after(&value)),
            detail,
        },
        _ => Error::HttpStatus { file_id, detail },
    }
}

/// Reads `code` and `message` from a JSON error body, when it is one.
fn parse_api_error(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(serde_json::Value::Object(object)) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (None, None);
    };
    let text = |key: &str| match object.get(key) {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    (
        text("code"),
        text("message").or_else(|| text("error_description")),
    )
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?;
    let text = match value.to_str() {
        Ok(text) => text.to_string(),
        // Some servers send raw UTF-8 or ISO-8859-1 bytes in header values.
        Err(_) => match std::str::from_utf8(value.as_bytes()) {
            Ok(text) => text.to_string(),
            Err(_) => value.as_bytes().iter().map(|&b| char::from(b)).collect(),
        },
    };
    Some(text)
}

fn response_meta(
    file_id: &str,
    status: u16,
    headers: &HeaderMap,
    content_length: Option<u64>,
) -> ResponseMeta {
    let server_file_name =
        header_text(headers, "content-disposition").and_then(|value| parse_file_name(&value));
    let file_name = server_file_name
        .as_deref()
        .and_then(sanitize_file_name)
        .unwrap_or_else(|| fallback_file_name(file_id));

    let accepts_ranges = header_text(headers, "accept-ranges").is_some_and(|value| {
        value
            .split(',')
            .any(|unit| unit.trim().eq_ignore_ascii_case("bytes"))
    });
    // Only a strong ETag or a Last-Modified date may guard a resumed range.
    let validator = header_text(headers, "etag")
        .filter(|tag| !tag.starts_with("W/"))
        .or_else(|| header_text(headers, "last-modified"));

    ResponseMeta {
        status,
        content_length,
        content_type: header_text(headers, "content-type"),
        server_file_name,
        file_name,
        resume_validator: if accepts_ranges && content_length.is_some() {
            validator
        } else {
            None
        },
    }
}

/// Checks that `Content-Range: bytes {offset}-{total-1}/{total}` matches the resume.
fn content_range_matches(headers: &HeaderMap, offset: u64, total: Option<u64>) -> bool {
    let Some(value) = header_text(headers, "content-range") else {
        return false;
    };
    let Some(spec) = value.trim().strip_prefix("bytes ") else {
        return false;
    };
    let Some((range, size)) = spec.split_once('/') else {
        return false;
    };
    let Some((start, end)) = range.split_once('-') else {
        return false;
    };

    let (Ok(start), Ok(end), Ok(size)) = (
        start.trim().parse::<u64>(),
        end.trim().parse::<u64>(),
        size.trim().parse::<u64>(),
    ) else {
        return false;
    };
    start == offset && end.checked_add(1) == Some(size) && total.is_none_or(|total| total == size)
}

/// Calls the progress callback, turning a `Break` into an error.
fn report_progress(state: &mut TransferState<'_, '_>, total: Option<u64>) -> Result<(), Error> {
    if let Some(callback) = state.progress.as_mut() {
        if let ControlFlow::Break(()) = callback(state.received, total) {
            return Err(Error::AbortedByCallback {
                file_id: state.file_id.clone(),
            });
        }
    }
    Ok(())
}

/// Copies the body into the sink, counting bytes and enforcing the limits.
fn stream_body(
    reader: &mut dyn Read,
    state: &mut TransferState<'_, '_>,
    sink: &mut dyn Sink,
    total: Option<u64>,
) -> Result<(), Error> {
    let mut scratch = Vec::new();

    loop {
        // Read one byte past the limit, so that an oversized body is caught
        // before any of its excess reaches the sink.
        let allowance = state.max_size.map_or(usize::MAX, |limit| {
            // Saturating: a limit of u64::MAX means no limit, not a wrap to 0.
            limit
                .saturating_sub(state.received)
                .saturating_add(1)
                .min(usize::MAX as u64) as usize
        });

        let count = match sink.direct_buffer() {
            Some([]) => {
                let mut probe = [0u8; 1];
                let extra = read_some(reader, &mut probe, &state.file_id, state.received, total)?;
                if extra == 0 {
                    break;
                }
                return Err(Error::BufferTooSmall {
                    file_id: state.file_id.clone(),
                    capacity: state.received,
                    needed: total,
                });
            }
            Some(buffer) => {
                let window = buffer.len().min(allowance);
                let count = read_some(
                    reader,
                    &mut buffer[..window],
                    &state.file_id,
                    state.received,
                    total,
                )?;
                check_max_size(state, count)?;
                sink.commit_direct(count);
                count
            }
            None => {
                if scratch.is_empty() {
                    scratch = vec![0u8; scratch_size(total, state.received)];
                }
                let window = scratch.len().min(allowance);
                let (count, failure) = fill(reader, &mut scratch[..window], state, total);
                check_max_size(state, count)?;
                if count > 0 {
                    sink.write(&state.file_id, &scratch[..count])?;
                }
                if let Some(err) = failure {
                    // The bytes before the failure stay in the sink and are
                    // counted, so that a resume asks for the rest after them.
                    if count > 0 {
                        state.received += count as u64;
                        report_progress(state, total)?;
                    }
                    return Err(err);
                }
                count
            }
        };

        if count == 0 {
            break;
        }
        state.received += count as u64;
        report_progress(state, total)?;
    }

    match total {
        Some(expected) if state.received < expected => Err(Error::Truncated {
            file_id: state.file_id.clone(),
            expected: Some(expected),
            received: state.received,
        }),
        _ => Ok(()),
    }
}

/// Sizes the copy buffer: the rest of a small file, else 1 MiB.
fn scratch_size(total: Option<u64>, received: u64) -> usize {
    match total {
        Some(total) => (total.saturating_sub(received).max(1) as usize).min(COPY_BUFFER_SIZE),
        None => COPY_BUFFER_SIZE,
    }
}

fn check_max_size(state: &TransferState<'_, '_>, count: usize) -> Result<(), Error> {
    match state.max_size {
        Some(limit) if state.received + count as u64 > limit => Err(Error::TooLarge {
            file_id: state.file_id.clone(),
            limit,
            size: None,
        }),
        _ => Ok(()),
    }
}

/// Reads until `buffer` is full, the body ends or `MAX_FILL_TIME` has passed.
///
/// Returns the number of bytes read and, when a read failed, the failure.
/// Bytes that arrived before a failure are in `buffer[..count]`.
fn fill(
    reader: &mut dyn Read,
    buffer: &mut [u8],
    state: &TransferState<'_, '_>,
    total: Option<u64>,
) -> (usize, Option<Error>) {
    let started = Instant::now();
    let mut filled = 0;
    while filled < buffer.len() {
        // On a slow link, hand over what arrived so far now and then, so
        // that progress reports and cancellation do not wait for a full buffer.
        if filled > 0 && started.elapsed() >= MAX_FILL_TIME {
            break;
        }
        let received = state.received + filled as u64;
        match read_some(reader, &mut buffer[filled..], &state.file_id, received, total) {
            Ok(0) => break,
            Ok(count) => filled += count,
            Err(err) => return (filled, Some(err)),
        }
    }
    (filled, None)
}

/// Reads once, mapping a failure to the error a caller can act on.
/// `received` is the body size before this read, for the error message.
fn read_some(
    reader: &mut dyn Read,
    buffer: &mut [u8],
    file_id: &str,
    received: u64,
    total: Option<u64>,
) -> Result<usize, Error> {
    loop {
        match reader.read(buffer) {
            Ok(count) => return Ok(count),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(body_error(file_id, e, received, total)),
        }
    }
}

fn body_error(file_id: &str, err: std::io::Error, received: u64, total: Option<u64>) -> Error {
    use std::io::ErrorKind as Kind;
    let truncated = || Error::Truncated {
        file_id: file_id.to_string(),
        expected: total,
        received,
    };

    match err.kind() {
        Kind::UnexpectedEof | Kind::ConnectionReset | Kind::ConnectionAborted | Kind::BrokenPipe => {
            truncated()
        }
        _ => match transport_error(file_id, ureq::Error::from(err)) {
            // A malformed chunked body is a body that ended badly.
            Error::Protocol { .. } => truncated(),
            Error::Connection { .. } => truncated(),
            other => other,
        },
    }
}

/// Maps a ureq error to the kind a caller can act on.
fn transport_error(file_id: &str, err: ureq::Error) -> Error {
    use std::io::ErrorKind as Kind;
    let file_id = file_id.to_string();

    match err {
        ureq::Error::Timeout(which) => Error::Timeout {
            file_id,
            what: timeout_name(which).to_string(),
        },
        // ureq reports a failed handshake or certificate check as I/O that
        // carries the rustls error.
        ureq::Error::Io(e) if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) => Error::Tls {
            file_id,
            message: e.to_string(),
        },
        ureq::Error::Io(e) if matches!(e.kind(), Kind::TimedOut | Kind::WouldBlock) => Error::Timeout {
            file_id,
            what: "waiting for the server".to_string(),
        },
        ureq::Error::Io(e) => Error::Connection {
            file_id,
            message: format!("network error: {e}"),
        },
        ureq::Error::HostNotFound => Error::Connection {
            file_id,
            message: "the host name did not resolve".to_string(),
        },
        ureq::Error::ConnectionFailed => Error::Connection {
            file_id,
            message: "the connection could not be made".to_string(),
        },
        ureq::Error::InvalidProxyUrl => Error::InvalidArgument("the proxy URL is invalid".to_string()),
        ureq::Error::ConnectProxyFailed(reason) => Error::Connection {
            file_id,
            message: format!("the proxy refused the connection: {reason}"),
        },
        ureq::Error::Tls(reason) => Error::Tls {
            file_id,
            message: reason.to_string(),
        },
        ureq::Error::Rustls(e) => Error::Tls {
            file_id,
            message: e.to_string(),
        },
        ureq::Error::Pem(e) => Error::Tls {
            file_id,
            message: e.to_string(),
        },
        ureq::Error::TlsRequired => Error::Tls {
            file_id,
            message: "TLS is required".to_string(),
        },
        ureq::Error::LargeResponseHeader(size, limit) => Error::Protocol {
            file_id,
            message: format!("the response headers are larger than {limit} bytes ({size} bytes)"),
        },
        ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => Error::RedirectRefused {
            file_id,
            reason: "the redirect could not be followed".to_string(),
        },
        other => Error::Protocol {
            file_id,
            message: other.to_string(),
        },
    }
}

fn timeout_name(which: ureq::Timeout) -> &'static str {
    match which {
        ureq::Timeout::PerRead => "waiting for data from the server (stall timeout)",
        ureq::Timeout::Resolve => "resolving the host name",
        ureq::Timeout::Connect => "connecting",
        ureq::Timeout::Global => "the overall deadline",
        ureq::Timeout::RecvResponse => "waiting for the response",
        ureq::Timeout::RecvBody => "receiving the body",
        _ => "the request",
    }
}
