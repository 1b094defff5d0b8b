//! The fault matrix: every hostile-server or bad-destination case, run
//! against every sink, checking the error kind (or success) and that nothing
//! is lost.
//!
//! "Nothing is lost" means: an existing destination file is unchanged after
//! a failure, no temporary file is left in the folder, a caller buffer holds
//! nothing past the delivered size (after a failure, at most a prefix of the
//! file the server tried to send), and a writer holds at most such a prefix.
//! Error bodies never reach a sink.
//!
//! A writer and a write callback cannot take bytes back, so after a failure
//! they hold exactly what each case documents in [`Streamed`]. The write
//! callback runs through the real C ABI: the test declares the library's
//! `#[no_mangle]` functions in an `extern "C"` block and links them from the
//! crate, as a C program would from the static library.
//!
//! To add a sink, implement [`MatrixSink`] and list it in [`sinks`]; every
//! case then runs against it.

mod support;

use std::ffi::{c_int, c_void, CString};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use support::mounts::Tmpfs;
use support::{
    file_headers, folder_entries, head, pattern, response, Conn, FullDiskWriter, RawServer, RefusingPort,
};
use tallyfy_files::{Client, ErrorKind, IfExists, NameConflict};

/// What a file destination held before the download.
const OLD_CONTENTS: &[u8] = b"contents from before the download, which must survive any failure";

/// The file most cases serve.
const FILE_SIZE: usize = 200_000;

/// The room a full destination has: the tmpfs size, the buffer size or what
/// the writer accepts. The full-disk case serves a file four times larger.
const FULL_CAPACITY: usize = 256 * 1024;

/// The name the server gives the file, which the folder sink saves it under.
const SERVER_FILE_NAME: &str = "file.bin";

/// The file name the path sink saves to.
const PATH_FILE_NAME: &str = "saved.bin";

// ---------------------------------------------------------------------------
// Cases.

/// What the destination looks like before the download.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Destination {
    /// A writable folder; file sinks find an existing file where the download goes.
    Normal,
    /// Room for only `FULL_CAPACITY` bytes.
    Full,
    /// The destination folder does not exist.
    MissingFolder,
    /// The destination folder is on a read-only mount.
    ReadOnlyFolder,
}

/// What a streaming sink (a writer or a write callback) contains after a
/// failure. Such a sink cannot take bytes back, so it keeps what it was given.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Streamed {
    /// Nothing: the failure comes before the first body byte.
    Nothing,
    /// Exactly the first this many bytes of the payload.
    Exactly(usize),
    /// A prefix of the payload of at most this many bytes. A TCP reset may
    /// discard bytes that arrived but were not read yet, so how many reach
    /// the sink depends on timing.
    AtMost(usize),
}

#[derive(Clone, Debug)]
enum Expect {
    /// Success, delivering exactly one of these bodies.
    Delivers(Vec<Vec<u8>>),
    /// Failure of this kind.
    Fails(ErrorKind),
    /// Failure of the kind the sink reports when its destination is full.
    DestinationFull,
}

type Handler = Arc<dyn Fn(Conn) + Send + Sync>;

struct Case {
    name: String,
    serve: Handler,
    destination: Destination,
    /// How many downloads run at once into the same destination.
    parallel: usize,
    /// The file the server tried to send. After a failure a sink may hold a
    /// prefix of it and nothing else; `None` means the sink must hold nothing.
    payload: Option<Vec<u8>>,
    /// What a streaming sink contains after a failure.
    streamed: Streamed,
    expect: Expect,
    /// Keeps resources the handler points at, such as a refusing port, alive.
    _keep: Option<Arc<dyn Send + Sync>>,
}

impl Case {
    fn new(name: impl Into<String>, expect: Expect, serve: impl Fn(Conn) + Send + Sync + 'static) -> Case {
        Case {
            name: name.into(),
            serve: Arc::new(serve),
            destination: Destination::Normal,
            parallel: 1,
            payload: None,
            streamed: Streamed::Nothing,
            expect,
            _keep: None,
        }
    }

    fn streams(mut self, streamed: Streamed) -> Case {
        self.streamed = streamed;
        self
    }

    fn payload(mut self, payload: &[u8]) -> Case {
        self.payload = Some(payload.to_vec());
        self
    }

    fn destination(mut self, destination: Destination) -> Case {
        self.destination = destination;
        self
    }

    /// The largest body this case may deliver, to size caller buffers.
    fn largest_body(&self) -> usize {
        let delivered = match &self.expect {
            Expect::Delivers(bodies) => bodies.iter().map(Vec::len).max().unwrap_or(0),
            _ => 0,
        };
        delivered.max(self.payload.as_ref().map_or(0, Vec::len))
    }
}

/// Headers of a `size`-byte file download with a correct `Content-Length`.
fn sized_headers(size: usize) -> Vec<(&'static str, String)> {
    let mut headers = file_headers(SERVER_FILE_NAME);
    headers.push(("Content-Length", size.to_string()));
    headers
}

fn serve_file(file: Vec<u8>) -> impl Fn(Conn) + Send + Sync + 'static {
    move |mut conn: Conn| {
        conn.send(&response("200 OK", &file_headers(SERVER_FILE_NAME), &file));
    }
}

/// Lists every case. A case that fails before the first body byte, or on
/// an error status whose body never reaches a sink, leaves a streaming sink
/// empty: `Streamed::Nothing`, the default.
fn cases() -> Vec<Case> {
    let file = pattern(FILE_SIZE, 42);
    let mut cases = Vec::new();

    cases.push(Case::new(
        "control: a correct response",
        Expect::Delivers(vec![file.clone()]),
        serve_file(file.clone()),
    ));

    // A streaming sink keeps the bytes that arrived before the reset (up to
    // half the file) and the download fails with Truncated. Nothing can be
    // retried because the server offers no resume.
    let served = file.clone();
    cases.push(
        Case::new(
            "reset mid-body",
            Expect::Fails(ErrorKind::Truncated),
            move |mut conn| {
                conn.send(&head("200 OK", &sized_headers(served.len())));
                conn.send(&served[..FILE_SIZE / 2]);
                // Let the client take the head before the reset arrives.
                conn.pause(Duration::from_millis(50));
                conn.reset();
            },
        )
        .payload(&file)
        .streams(Streamed::AtMost(FILE_SIZE / 2)),
    );

    cases.push(Case::new(
        "close before headers",
        Expect::Fails(ErrorKind::Connection),
        |conn| conn.close(),
    ));

    cases.push(Case::new(
        "garbage status line",
        Expect::Fails(ErrorKind::Protocol),
        |mut conn| {
            conn.send(b"HTTP/1.1 OK-ish \x01\x02 nonsense\r\n\r\nbody");
        },
    ));

    cases.push(Case::new(
        "headers over 64 KiB",
        Expect::Fails(ErrorKind::Protocol),
        |mut conn| {
            let mut headers = sized_headers(5);
            for number in 0..70 {
                headers.push(("X-Padding", format!("{number}-{}", "p".repeat(1000))));
            }
            conn.send(&head("200 OK", &headers));
            conn.send(b"hello");
        },
    ));

    // The whole body arrives before the orderly close, so a streaming sink
    // gets every byte the server sent. Then the download fails with Truncated.
    let served = file.clone();
    cases.push(
        Case::new(
            "Content-Length larger than the body",
            Expect::Fails(ErrorKind::Truncated),
            move |mut conn| {
                conn.send(&head("200 OK", &sized_headers(served.len() + 1000)));
                conn.send(&served);
                conn.close();
            },
        )
        .payload(&file)
        .streams(Streamed::Exactly(FILE_SIZE)),
    );

    let served = file.clone();
    let declared = FILE_SIZE - 50_000;
    cases.push(Case::new(
        "Content-Length smaller than the body",
        Expect::Delivers(vec![file[..declared].to_vec()]),
        move |mut conn| {
            conn.send(&head("200 OK", &sized_headers(declared)));
            conn.send(&served);
            conn.close();
        },
    ));

    cases.push(Case::new(
        "invalid Content-Length",
        Expect::Fails(ErrorKind::Protocol),
        |mut conn| {
            let mut headers = file_headers(SERVER_FILE_NAME);
            headers.push(("Content-Length", "12x".to_string()));
            conn.send(&head("200 OK", &headers));
            conn.send(b"hello world!");
            conn.close();
        },
    ));

    cases.push(Case::new(
        "duplicated Content-Length, values differ",
        Expect::Fails(ErrorKind::Protocol),
        |mut conn| {
            let mut headers = file_headers(SERVER_FILE_NAME);
            headers.push(("Content-Length", "5".to_string()));
            headers.push(("Content-Length", "3".to_string()));
            conn.send(&head("200 OK", &headers));
            conn.send(b"hello");
            conn.close();
        },
    ));

    cases.push(Case::new(
        "duplicated Content-Length, values equal",
        Expect::Delivers(vec![b"hello".to_vec()]),
        |mut conn| {
            let mut headers = file_headers(SERVER_FILE_NAME);
            headers.push(("Content-Length", "5".to_string()));
            headers.push(("Content-Length", "5".to_string()));
            conn.send(&head("200 OK", &headers));
            conn.send(b"hello");
            conn.close();
        },
    ));

    // Every chunk is complete, so a streaming sink gets the whole file. Then
    // the download fails with Truncated because the closing chunk never comes.
    let served = file.clone();
    cases.push(
        Case::new(
            "chunked body missing its last chunk",
            Expect::Fails(ErrorKind::Truncated),
            move |mut conn| {
                let mut headers = file_headers(SERVER_FILE_NAME);
                headers.push(("Transfer-Encoding", "chunked".to_string()));
                conn.send(&head("200 OK", &headers));
                for chunk in served.chunks(16 * 1024) {
                    conn.send(format!("{:x}\r\n", chunk.len()).as_bytes());
                    conn.send(chunk);
                    conn.send(b"\r\n");
                }
                // No "0\r\n\r\n": the body just ends.
                conn.close();
            },
        )
        .payload(&file)
        .streams(Streamed::Exactly(FILE_SIZE)),
    );

    cases.push(Case::new(
        "redirect loop",
        Expect::Fails(ErrorKind::RedirectRefused),
        |mut conn| {
            let location = conn.request().path.clone();
            conn.send(&response("302 Found", &[("Location", location)], b""));
        },
    ));

    let refusing = Arc::new(RefusingPort::new());
    let port = refusing.port();
    let mut redirect = Case::new(
        "redirect to a port that refuses connections",
        Expect::Fails(ErrorKind::Connection),
        move |mut conn| {
            let location = format!("http://127.0.0.1:{port}/storage/file.bin");
            conn.send(&response("302 Found", &[("Location", location)], b""));
        },
    );
    redirect._keep = Some(refusing);
    cases.push(redirect);

    let big_error_body = Arc::new(pattern(10 * 1024 * 1024, 43));
    let statuses = [
        ("401 Unauthorized", ErrorKind::Unauthorized),
        ("403 Forbidden", ErrorKind::Forbidden),
        ("404 Not Found", ErrorKind::NotFound),
        ("429 Too Many Requests", ErrorKind::RateLimited),
        ("500 Internal Server Error", ErrorKind::HttpStatus),
    ];
    for (status, kind) in statuses {
        let bodies: [(&str, &str, Arc<Vec<u8>>); 4] = [
            (
                "HTML",
                "text/html",
                Arc::new(b"<html><body><h1>Something went wrong</h1></body></html>".to_vec()),
            ),
            (
                "JSON",
                "application/json",
                Arc::new(
                    br#"{"error":true,"message":"Resource not found","code":"RESOURCE_NOT_FOUND"}"#.to_vec(),
                ),
            ),
            ("empty", "text/plain", Arc::new(Vec::new())),
            ("10 MiB", "application/octet-stream", big_error_body.clone()),
        ];
        for (label, content_type, body) in bodies {
            cases.push(Case::new(
                format!("{status}, {label} body"),
                Expect::Fails(kind),
                move |mut conn| {
                    let headers = [
                        ("Content-Type", content_type.to_string()),
                        ("X-Request-Id", "req-1".to_string()),
                    ];
                    conn.send(&response(status, &headers, &body));
                },
            ));
        }
    }

    // A streaming sink takes exactly its capacity and then rejects the rest.
    // The writer fails with ENOSPC, and the write callback returns fewer bytes
    // than offered. Either way the download fails with Write.
    let big = pattern(4 * FULL_CAPACITY, 44);
    cases.push(
        Case::new("full disk", Expect::DestinationFull, serve_file(big.clone()))
            .payload(&big)
            .streams(Streamed::Exactly(FULL_CAPACITY))
            .destination(Destination::Full),
    );

    cases.push(
        Case::new(
            "missing destination folder",
            Expect::Fails(ErrorKind::Io),
            serve_file(file.clone()),
        )
        .payload(&file)
        .destination(Destination::MissingFolder),
    );

    cases.push(
        Case::new(
            "read-only destination folder",
            Expect::Fails(ErrorKind::Io),
            serve_file(file.clone()),
        )
        .payload(&file)
        .destination(Destination::ReadOnlyFolder),
    );

    // Two different bodies, sent in pieces so that the downloads overlap.
    let first = pattern(2 * 1024 * 1024, 45);
    let second = pattern(2 * 1024 * 1024, 46);
    let bodies = [first.clone(), second.clone()];
    let mut race = Case::new(
        "two downloads to the same destination at once",
        Expect::Delivers(vec![first, second]),
        move |mut conn| {
            let body = &bodies[conn.index() % 2];
            conn.send(&head("200 OK", &sized_headers(body.len())));
            conn.trickle(body, 128 * 1024, Duration::from_millis(5));
        },
    );
    race.parallel = 2;
    cases.push(race);

    cases
}

// ---------------------------------------------------------------------------
// Sinks.

/// Everything a sink needs to run one cell.
struct Env<'a> {
    client: &'a Client,
    /// The base URL `client` uses, for sinks that build their own client.
    base_url: &'a str,
    file_id: &'a str,
    case: &'a Case,
    /// A fresh, empty folder for this cell.
    scratch: &'a Path,
}

/// What one cell did, as the sink saw it.
#[derive(Debug)]
struct Observation {
    /// One result per download: the delivered size, or the error kind.
    results: Vec<Result<u64, ErrorKind>>,
    /// What the destination holds from this download: the saved file, the
    /// filled part of the buffer or what the writer took.
    delivered: Vec<u8>,
    /// What the other destinations hold, when each download had its own.
    other_deliveries: Vec<Vec<u8>>,
    /// Broken guarantees the sink itself found: a changed existing file, a
    /// leftover temporary file, bytes written past the delivered size.
    damage: Vec<String>,
}

enum Cell {
    Ran(Observation),
    NotApplicable(&'static str),
    Skipped(String),
}

/// A destination kind under test.
trait MatrixSink: Sync {
    fn name(&self) -> &'static str;

    /// The error kind this sink reports when its destination is full.
    fn full_kind(&self) -> ErrorKind;

    /// Returns true for a sink that cannot take bytes back, whose contents
    /// after a failure the case's [`Streamed`] value describes.
    fn streams(&self) -> bool {
        false
    }

    /// Prepares the destination the case describes, runs the case's
    /// downloads and inspects what is left.
    fn run(&self, env: &Env<'_>) -> Cell;
}

/// Every sink the matrix covers. Add a new sink here.
fn sinks() -> Vec<Box<dyn MatrixSink>> {
    vec![
        Box::new(FileSink { folder_mode: false }),
        Box::new(FileSink { folder_mode: true }),
        Box::new(BufferSink),
        Box::new(WriterSink),
        Box::new(CallbackSink),
    ]
}

/// A folder prepared for a file sink, and the mount that holds it, if any.
struct PreparedFolder {
    folder: PathBuf,
    existing: Option<PathBuf>,
    _mount: Option<Tmpfs>,
}

/// The path and folder sinks, which share their set-up and checks.
struct FileSink {
    /// Save with `to_folder` under the server's name instead of `to_path`.
    folder_mode: bool,
}

impl FileSink {
    fn target_name(&self) -> &'static str {
        if self.folder_mode {
            SERVER_FILE_NAME
        } else {
            PATH_FILE_NAME
        }
    }

    fn prepare(&self, env: &Env<'_>) -> Result<PreparedFolder, String> {
        let name = self.target_name();
        let mut mount = None;
        let folder = match env.case.destination {
            Destination::Normal => env.scratch.join("dest"),
            Destination::MissingFolder => env.scratch.join("no-such-folder"),
            Destination::Full | Destination::ReadOnlyFolder => {
                let size = if env.case.destination == Destination::Full {
                    FULL_CAPACITY as u64
                } else {
                    1024 * 1024
                };
                let tmpfs = Tmpfs::mount(size).map_err(|err| format!("cannot mount a tmpfs here ({err})"))?;
                let folder = tmpfs.path().to_path_buf();
                mount = Some(tmpfs);
                folder
            }
        };

        let mut existing = None;
        if env.case.destination != Destination::MissingFolder {
            std::fs::create_dir_all(&folder).unwrap();
            let path = folder.join(name);
            std::fs::write(&path, OLD_CONTENTS).unwrap();
            existing = Some(path);
        }
        if env.case.destination == Destination::ReadOnlyFolder {
            let tmpfs = mount.as_ref().unwrap();
            tmpfs
                .make_read_only()
                .map_err(|err| format!("cannot remount the tmpfs read-only ({err})"))?;
        }
        Ok(PreparedFolder {
            folder,
            existing,
            _mount: mount,
        })
    }

    fn download(&self, client: &Client, file_id: &str, folder: &Path) -> Result<u64, ErrorKind> {
        let download = client.download(file_id);
        let result = if self.folder_mode {
            download.to_folder(folder, NameConflict::Replace)
        } else {
            download.to_path(folder.join(PATH_FILE_NAME), IfExists::Replace)
        };
        result.map(|info| info.size).map_err(|err| err.kind())
    }
}

impl MatrixSink for FileSink {
    fn name(&self) -> &'static str {
        if self.folder_mode {
            "folder"
        } else {
            "path"
        }
    }

    fn full_kind(&self) -> ErrorKind {
        ErrorKind::Io
    }

    fn run(&self, env: &Env<'_>) -> Cell {
        let prepared = match self.prepare(env) {
            Ok(prepared) => prepared,
            Err(reason) => return Cell::Skipped(reason),
        };

        let results: Vec<Result<u64, ErrorKind>> = std::thread::scope(|scope| {
            let runs: Vec<_> = (0..env.case.parallel)
                .map(|_| scope.spawn(|| self.download(env.client, env.file_id, &prepared.folder)))
                .collect();
            runs.into_iter().map(|run| run.join().unwrap()).collect()
        });

        let mut damage = Vec::new();
        let target = prepared.folder.join(self.target_name());
        let any_success = results.iter().any(Result::is_ok);
        let delivered = if any_success {
            std::fs::read(&target).unwrap_or_default()
        } else {
            Vec::new()
        };

        // After a failure the old file is exactly as it was.
        if !any_success {
            if let Some(existing) = &prepared.existing {
                if std::fs::read(existing).ok().as_deref() != Some(OLD_CONTENTS) {
                    damage.push(format!("the existing file {} changed", existing.display()));
                }
            }
        }

        // Only the destination file may be in the folder: no temporary files.
        if env.case.destination == Destination::MissingFolder {
            if prepared.folder.exists() {
                damage.push("the missing folder was created".to_string());
            }
        } else {
            let entries = folder_entries(&prepared.folder);
            let leftovers: Vec<&String> = entries
                .iter()
                .filter(|name| *name != self.target_name())
                .collect();
            if !leftovers.is_empty() {
                damage.push(format!("files left in the folder: {leftovers:?}"));
            }
        }

        Cell::Ran(Observation {
            results,
            delivered,
            other_deliveries: Vec::new(),
            damage,
        })
    }
}

/// The caller-buffer sink (`to_slice`).
struct BufferSink;

/// The byte a buffer is filled with before the download.
const SENTINEL: u8 = 0xA5;

impl MatrixSink for BufferSink {
    fn name(&self) -> &'static str {
        "buffer"
    }

    fn full_kind(&self) -> ErrorKind {
        ErrorKind::BufferTooSmall
    }

    fn run(&self, env: &Env<'_>) -> Cell {
        let capacity = match env.case.destination {
            Destination::Normal => env.case.largest_body() + 4096,
            Destination::Full => FULL_CAPACITY,
            Destination::MissingFolder | Destination::ReadOnlyFolder => {
                return Cell::NotApplicable("a caller buffer has no folder");
            }
        };
        if env.case.parallel > 1 {
            return Cell::NotApplicable("each download has its own buffer, so nothing is shared");
        }

        let mut buffer = vec![SENTINEL; capacity];
        let result = env
            .client
            .download(env.file_id)
            .to_slice(&mut buffer)
            .map(|info| info.size)
            .map_err(|err| err.kind());

        // The buffer holds the delivered bytes (or, after a failure, a
        // prefix of the payload) and is untouched after them.
        let written = match (&result, &env.case.payload) {
            (Ok(size), _) => *size as usize,
            (Err(_), Some(payload)) => common_prefix(&buffer, payload),
            (Err(_), None) => 0,
        };
        let mut damage = Vec::new();
        if let Some(offset) = buffer[written.min(capacity)..]
            .iter()
            .position(|&b| b != SENTINEL)
        {
            damage.push(format!(
                "the buffer was written at byte {} past the delivered bytes",
                written + offset
            ));
        }
        Cell::Ran(Observation {
            results: vec![result],
            delivered: buffer[..written.min(capacity)].to_vec(),
            other_deliveries: Vec::new(),
            damage,
        })
    }
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The writer sink (`to_writer`); a full destination is a writer failing with ENOSPC.
struct WriterSink;

impl MatrixSink for WriterSink {
    fn name(&self) -> &'static str {
        "writer"
    }

    fn full_kind(&self) -> ErrorKind {
        ErrorKind::Write
    }

    fn streams(&self) -> bool {
        true
    }

    fn run(&self, env: &Env<'_>) -> Cell {
        let capacity = match env.case.destination {
            Destination::Normal => usize::MAX,
            Destination::Full => FULL_CAPACITY,
            Destination::MissingFolder | Destination::ReadOnlyFolder => {
                return Cell::NotApplicable("a writer has no folder");
            }
        };
        if env.case.parallel > 1 {
            return Cell::NotApplicable("each download has its own writer, so nothing is shared");
        }

        let mut writer = FullDiskWriter::new(capacity);
        let result = env
            .client
            .download(env.file_id)
            .to_writer(&mut writer)
            .map(|info| info.size)
            .map_err(|err| err.kind());
        Cell::Ran(Observation {
            results: vec![result],
            delivered: writer.taken,
            other_deliveries: Vec::new(),
            damage: Vec::new(),
        })
    }
}

// ---------------------------------------------------------------------------
// The write-callback sink, through the C ABI.

/// The parts of `include/tallyfy_files.h` that the callback sink calls.
///
/// The library exports these functions with `#[no_mangle]`, so this test
/// links them from the crate like any other symbol. Every call goes through
/// the same boundary (argument checks, panic catching, status codes) as a
/// call from C.
#[allow(non_camel_case_types)]
mod c_abi {
    use std::ffi::{c_char, c_int, c_void};

    pub type tallyfy_status = i32;
    pub const TALLYFY_OK: tallyfy_status = 0;

    /// Opaque handles, only ever used behind pointers.
    #[repr(C)]
    pub struct tallyfy_client_options {
        _opaque: [u8; 0],
    }
    #[repr(C)]
    pub struct tallyfy_client {
        _opaque: [u8; 0],
    }
    #[repr(C)]
    pub struct tallyfy_download_options {
        _opaque: [u8; 0],
    }

    /// The leading fields of `tallyfy_file_info`, in the header's order. It
    /// is only read through the pointer the library returns.
    #[repr(C)]
    pub struct tallyfy_file_info {
        pub file_name: *const c_char,
        pub server_file_name: *const c_char,
        pub content_type: *const c_char,
        pub path: *const c_char,
        pub size: u64,
        pub http_status: u16,
    }

    pub type tallyfy_write_callback =
        Option<unsafe extern "C" fn(user: *mut c_void, data: *const u8, len: usize) -> usize>;
    pub type tallyfy_progress_callback =
        Option<unsafe extern "C" fn(user: *mut c_void, received: u64, total: u64) -> c_int>;

    extern "C" {
        pub fn tallyfy_last_error_status() -> tallyfy_status;
        pub fn tallyfy_last_error_message() -> *const c_char;

        pub fn tallyfy_client_options_new(out_options: *mut *mut tallyfy_client_options) -> tallyfy_status;
        pub fn tallyfy_client_options_free(options: *mut tallyfy_client_options);
        pub fn tallyfy_client_options_set_token(
            options: *mut tallyfy_client_options,
            token: *const c_char,
        ) -> tallyfy_status;
        pub fn tallyfy_client_options_set_org_id(
            options: *mut tallyfy_client_options,
            org_id: *const c_char,
        ) -> tallyfy_status;
        pub fn tallyfy_client_options_set_base_url(
            options: *mut tallyfy_client_options,
            base_url: *const c_char,
        ) -> tallyfy_status;
        pub fn tallyfy_client_options_set_stall_timeout_ms(
            options: *mut tallyfy_client_options,
            timeout_ms: u64,
        ) -> tallyfy_status;
        pub fn tallyfy_client_options_set_deadline_ms(
            options: *mut tallyfy_client_options,
            deadline_ms: u64,
        ) -> tallyfy_status;
        pub fn tallyfy_client_options_set_retry_max_attempts(
            options: *mut tallyfy_client_options,
            max_attempts: u32,
        ) -> tallyfy_status;
        pub fn tallyfy_client_options_set_retry_initial_backoff_ms(
            options: *mut tallyfy_client_options,
            backoff_ms: u64,
        ) -> tallyfy_status;
        pub fn tallyfy_client_options_set_retry_max_backoff_ms(
            options: *mut tallyfy_client_options,
            backoff_ms: u64,
        ) -> tallyfy_status;
        pub fn tallyfy_client_options_set_retry_max_wait_ms(
            options: *mut tallyfy_client_options,
            wait_ms: u64,
        ) -> tallyfy_status;
        pub fn tallyfy_client_options_set_retry_max_total_wait_ms(
            options: *mut tallyfy_client_options,
            wait_ms: u64,
        ) -> tallyfy_status;

        pub fn tallyfy_client_new(
            options: *const tallyfy_client_options,
            out_client: *mut *mut tallyfy_client,
        ) -> tallyfy_status;
        pub fn tallyfy_client_free(client: *mut tallyfy_client);

        pub fn tallyfy_download_options_new(
            out_options: *mut *mut tallyfy_download_options,
        ) -> tallyfy_status;
        pub fn tallyfy_download_options_free(options: *mut tallyfy_download_options);
        pub fn tallyfy_download_options_set_progress(
            options: *mut tallyfy_download_options,
            callback: tallyfy_progress_callback,
            user: *mut c_void,
        ) -> tallyfy_status;

        pub fn tallyfy_file_info_free(info: *mut tallyfy_file_info);

        pub fn tallyfy_download_to_callback(
            client: *const tallyfy_client,
            file_id: *const c_char,
            options: *const tallyfy_download_options,
            write_callback: tallyfy_write_callback,
            user: *mut c_void,
            out_info: *mut *mut tallyfy_file_info,
        ) -> tallyfy_status;
    }
}

/// Every `ErrorKind`, at the index of its number. The C API's status codes 1
/// to 18 are these numbers.
const KINDS_BY_STATUS: [ErrorKind; 18] = [
    ErrorKind::InvalidArgument,
    ErrorKind::Unauthorized,
    ErrorKind::Forbidden,
    ErrorKind::NotFound,
    ErrorKind::RateLimited,
    ErrorKind::HttpStatus,
    ErrorKind::Timeout,
    ErrorKind::Connection,
    ErrorKind::Tls,
    ErrorKind::Truncated,
    ErrorKind::TooLarge,
    ErrorKind::BufferTooSmall,
    ErrorKind::DestinationExists,
    ErrorKind::Io,
    ErrorKind::AbortedByCallback,
    ErrorKind::RedirectRefused,
    ErrorKind::Write,
    ErrorKind::Protocol,
];

/// Returns the `ErrorKind` of a `tallyfy_status` error code, or `None` for
/// `TALLYFY_OK`, `TALLYFY_INTERNAL_ERROR` and unknown values.
fn kind_of_status(status: c_abi::tallyfy_status) -> Option<ErrorKind> {
    let index = usize::try_from(status).ok()?.checked_sub(1)?;
    let kind = *KINDS_BY_STATUS.get(index)?;
    assert_eq!(kind as i32, status, "KINDS_BY_STATUS is out of order at {status}");
    Some(kind)
}

/// Returns the calling thread's last error message from the C API.
fn last_error_message() -> String {
    // SAFETY: the library returns a NUL-terminated string, never NULL, that
    // stays valid until this thread's next call that returns a status.
    unsafe { std::ffi::CStr::from_ptr(c_abi::tallyfy_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

/// Panics with the library's message when a set-up call failed.
fn expect_ok(status: c_abi::tallyfy_status, call: &str) {
    assert_eq!(
        status,
        c_abi::TALLYFY_OK,
        "{call} failed: {}",
        last_error_message()
    );
}

/// A C client, freed on drop.
struct CClient(*mut c_abi::tallyfy_client);

// SAFETY: the header allows one client to be used by any number of threads
// at once, and it is freed only by drop, after every download returned.
unsafe impl Send for CClient {}
unsafe impl Sync for CClient {}

impl CClient {
    /// Builds a client with the same settings as the Rust client of the matrix.
    fn new(base_url: &str) -> CClient {
        let token = CString::new(support::TOKEN).unwrap();
        let org_id = CString::new(support::ORG_ID).unwrap();
        let base_url = CString::new(base_url).unwrap();
        let retries = support::fast_retries(2);
        let millis = |duration: Duration| duration.as_millis() as u64;

        // SAFETY: each call gets a live options object and NUL-terminated
        // strings that outlive it; the library copies what it keeps.
        unsafe {
            let mut options = std::ptr::null_mut();
            expect_ok(
                c_abi::tallyfy_client_options_new(&mut options),
                "tallyfy_client_options_new",
            );
            expect_ok(
                c_abi::tallyfy_client_options_set_token(options, token.as_ptr()),
                "set_token",
            );
            expect_ok(
                c_abi::tallyfy_client_options_set_org_id(options, org_id.as_ptr()),
                "set_org_id",
            );
            expect_ok(
                c_abi::tallyfy_client_options_set_base_url(options, base_url.as_ptr()),
                "set_base_url",
            );
            expect_ok(
                c_abi::tallyfy_client_options_set_stall_timeout_ms(options, 10_000),
                "set_stall_timeout_ms",
            );
            expect_ok(
                c_abi::tallyfy_client_options_set_deadline_ms(options, 60_000),
                "set_deadline_ms",
            );
            expect_ok(
                c_abi::tallyfy_client_options_set_retry_max_attempts(options, retries.max_attempts),
                "set_retry_max_attempts",
            );
            expect_ok(
                c_abi::tallyfy_client_options_set_retry_initial_backoff_ms(
                    options,
                    millis(retries.initial_backoff),
                ),
                "set_retry_initial_backoff_ms",
            );
            expect_ok(
                c_abi::tallyfy_client_options_set_retry_max_backoff_ms(options, millis(retries.max_backoff)),
                "set_retry_max_backoff_ms",
            );
            expect_ok(
                c_abi::tallyfy_client_options_set_retry_max_wait_ms(options, millis(retries.max_wait)),
                "set_retry_max_wait_ms",
            );
            expect_ok(
                c_abi::tallyfy_client_options_set_retry_max_total_wait_ms(
                    options,
                    millis(retries.max_total_wait),
                ),
                "set_retry_max_total_wait_ms",
            );

            let mut client = std::ptr::null_mut();
            let status = c_abi::tallyfy_client_new(options, &mut client);
            c_abi::tallyfy_client_options_free(options);
            expect_ok(status, "tallyfy_client_new");
            CClient(client)
        }
    }
}

impl Drop for CClient {
    fn drop(&mut self) {
        // SAFETY: the client came from tallyfy_client_new and no download runs.
        unsafe { c_abi::tallyfy_client_free(self.0) };
    }
}

/// What the write and progress callbacks of one download saw.
#[derive(Default)]
struct CallbackState {
    /// Room left before the callback takes fewer bytes than offered, as a
    /// caller whose disk is full does.
    room: usize,
    taken: Vec<u8>,
    /// Broken callback contracts: an empty or NULL block, or a progress
    /// count that differs from the bytes the write callback took.
    violations: Vec<String>,
}

/// The write callback: appends the block to the state's `taken`, up to `room`.
///
/// It must not panic, because a panic cannot unwind out of an `extern "C"`
/// function; it records broken contracts instead.
unsafe extern "C" fn take_block(user: *mut c_void, data: *const u8, len: usize) -> usize {
    // SAFETY: `user` is the CallbackState of this download, which outlives
    // it, and only the downloading thread touches it meanwhile.
    let state = unsafe { &mut *user.cast::<CallbackState>() };
    if data.is_null() || len == 0 {
        state.violations.push(format!(
            "the write callback got a block of {len} bytes at {data:?}"
        ));
        return 0;
    }

    // SAFETY: the library passes `len` readable bytes, valid during the call.
    let block = unsafe { std::slice::from_raw_parts(data, len) };
    let count = len.min(state.room);
    state.taken.extend_from_slice(&block[..count]);
    state.room -= count;
    count
}

/// The progress callback: checks that `received` counts what the write
/// callback took, so that progress never runs ahead of the delivered bytes
/// and never restarts, which a write callback could not follow.
unsafe extern "C" fn check_progress(user: *mut c_void, received: u64, _total: u64) -> c_int {
    // SAFETY: as in take_block; both callbacks run on the downloading thread.
    let state = unsafe { &mut *user.cast::<CallbackState>() };
    if received != state.taken.len() as u64 {
        state.violations.push(format!(
            "progress reported {received} bytes while the write callback had taken {}",
            state.taken.len()
        ));
    }
    0
}

/// Runs one download through `tallyfy_download_to_callback`. Returns its
/// result (`None` for a status that is no error kind) and the callbacks'
/// state, whose violations include problems found at the boundary.
fn callback_download(
    client: &CClient,
    file_id: &str,
    room: usize,
) -> (Option<Result<u64, ErrorKind>>, CallbackState) {
    let file_id = CString::new(file_id).unwrap();
    let mut state = CallbackState {
        room,
        ..CallbackState::default()
    };
    let user: *mut c_void = (&mut state as *mut CallbackState).cast();

    // SAFETY: the client is live, the strings are NUL-terminated, `user`
    // points at `state` for the whole download, and the file info is freed
    // once read.
    let (status, size) = unsafe {
        let mut options = std::ptr::null_mut();
        expect_ok(
            c_abi::tallyfy_download_options_new(&mut options),
            "tallyfy_download_options_new",
        );
        expect_ok(
            c_abi::tallyfy_download_options_set_progress(options, Some(check_progress), user),
            "tallyfy_download_options_set_progress",
        );

        let mut info: *mut c_abi::tallyfy_file_info = std::ptr::null_mut();
        let status = c_abi::tallyfy_download_to_callback(
            client.0,
            file_id.as_ptr(),
            options,
            Some(take_block),
            user,
            &mut info,
        );
        c_abi::tallyfy_download_options_free(options);

        let size = info.as_ref().map(|info| info.size);
        c_abi::tallyfy_file_info_free(info);
        (status, size)
    };

    // The status, the thread's last error and the file info agree.
    let mut problems = Vec::new();
    // SAFETY: reads this thread's last status; no arguments.
    let last = unsafe { c_abi::tallyfy_last_error_status() };
    if last != status {
        problems.push(format!(
            "returned status {status} but tallyfy_last_error_status() is {last}"
        ));
    }
    let result = if status == c_abi::TALLYFY_OK {
        match size {
            None => problems.push("succeeded without a file info".to_string()),
            Some(size) if size != state.taken.len() as u64 => problems.push(format!(
                "the file info says {size} bytes, the write callback took {}",
                state.taken.len()
            )),
            Some(_) => {}
        }
        Some(Ok(state.taken.len() as u64))
    } else {
        let message = last_error_message();
        if message.contains(support::TOKEN) {
            problems.push(format!("the error message contains the token: {message}"));
        }
        if size.is_some() {
            problems.push(format!("status {status} came with a file info"));
        }
        match kind_of_status(status) {
            Some(kind) => Some(Err(kind)),
            None => {
                problems.push(format!(
                    "returned status {status}, which is no error kind: {message}"
                ));
                None
            }
        }
    };
    state.violations.extend(problems);
    (result, state)
}

/// The write callback of the C API (`tallyfy_download_to_callback`), with a
/// progress callback that checks its counts. A full destination is a
/// callback that takes fewer bytes than offered once it has taken
/// `FULL_CAPACITY`, which fails with Write. Two downloads at once run
/// through one shared C client, each into its own callback, and each must
/// receive one complete body.
struct CallbackSink;

impl MatrixSink for CallbackSink {
    fn name(&self) -> &'static str {
        "callback"
    }

    fn full_kind(&self) -> ErrorKind {
        ErrorKind::Write
    }

    fn streams(&self) -> bool {
        true
    }

    fn run(&self, env: &Env<'_>) -> Cell {
        let room = match env.case.destination {
            Destination::Normal => usize::MAX,
            Destination::Full => FULL_CAPACITY,
            Destination::MissingFolder | Destination::ReadOnlyFolder => {
                return Cell::NotApplicable("a write callback has no folder");
            }
        };

        let client = CClient::new(env.base_url);
        let downloads: Vec<_> = std::thread::scope(|scope| {
            let runs: Vec<_> = (0..env.case.parallel)
                .map(|_| scope.spawn(|| callback_download(&client, env.file_id, room)))
                .collect();
            runs.into_iter().map(|run| run.join().unwrap()).collect()
        });
        drop(client);

        let mut results = Vec::new();
        let mut deliveries = Vec::new();
        let mut damage = Vec::new();
        for (result, state) in downloads {
            results.extend(result);
            deliveries.push(state.taken);
            damage.extend(state.violations);
        }
        let delivered = deliveries.remove(0);
        Cell::Ran(Observation {
            results,
            delivered,
            other_deliveries: deliveries,
            damage,
        })
    }
}

// ---------------------------------------------------------------------------
// The run.

/// Checks one cell against the case's expectation. Returns the problems found.
fn check(case: &Case, sink: &dyn MatrixSink, observation: &Observation) -> Vec<String> {
    let mut problems = observation.damage.clone();
    let destinations = std::iter::once(&observation.delivered).chain(&observation.other_deliveries);

    match &case.expect {
        Expect::Delivers(bodies) => {
            for result in &observation.results {
                if let Err(kind) = result {
                    problems.push(format!("expected success, got {kind:?}"));
                }
            }
            for delivered in destinations {
                if !bodies.contains(delivered) {
                    problems.push(format!(
                        "delivered {} bytes that match none of the expected bodies",
                        delivered.len()
                    ));
                }
            }
        }
        Expect::Fails(_) | Expect::DestinationFull => {
            let expected = match &case.expect {
                Expect::Fails(kind) => *kind,
                _ => sink.full_kind(),
            };
            for result in &observation.results {
                match result {
                    Err(kind) if *kind == expected => {}
                    other => problems.push(format!("expected {expected:?}, got {other:?}")),
                }
            }
            let allowed = case.payload.as_deref().unwrap_or(&[]);
            for delivered in destinations {
                if delivered.len() > allowed.len() || *delivered != allowed[..delivered.len()] {
                    problems.push(format!(
                        "after the failure the sink holds {} bytes that are not a prefix of the file",
                        delivered.len()
                    ));
                }
                if sink.streams() {
                    problems.extend(check_streamed(case.streamed, delivered.len()));
                }
            }
        }
    }
    problems
}

/// Checks how many bytes a streaming sink contains after a failure.
fn check_streamed(streamed: Streamed, held: usize) -> Option<String> {
    let wrong = match streamed {
        Streamed::Nothing => held != 0,
        Streamed::Exactly(count) => held != count,
        Streamed::AtMost(count) => held > count,
    };
    wrong.then(|| format!("after the failure the sink contains {held} bytes, expected {streamed:?}"))
}

#[test]
fn fault_matrix() {
    let cases = cases();
    let sinks = sinks();
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    let mut not_applicable = Vec::new();
    let mut ran = 0;

    println!(
        "{:<52} {}",
        "case",
        sinks
            .iter()
            .map(|sink| format!("{:<9}", sink.name()))
            .collect::<String>()
    );
    for case in &cases {
        let mut row = String::new();
        for sink in &sinks {
            let server = {
                let serve = case.serve.clone();
                RawServer::start(move |conn| serve(conn))
            };
            let client = Client::builder()
                .token(support::TOKEN)
                .org_id(support::ORG_ID)
                .base_url(server.base_url())
                .stall_timeout(Some(Duration::from_secs(10)))
                .deadline(Some(Duration::from_secs(60)))
                .retry_policy(support::fast_retries(2))
                .build()
                .unwrap();
            let scratch = tempfile::tempdir().unwrap();
            let base_url = server.base_url();
            let env = Env {
                client: &client,
                base_url: &base_url,
                file_id: "matrix",
                case,
                scratch: scratch.path(),
            };

            let label = match sink.run(&env) {
                Cell::Ran(observation) => {
                    ran += 1;
                    let problems = check(case, sink.as_ref(), &observation);
                    if problems.is_empty() {
                        "ok"
                    } else {
                        failures.push(format!(
                            "{} × {}: {}",
                            case.name,
                            sink.name(),
                            problems.join("; ")
                        ));
                        "FAIL"
                    }
                }
                Cell::NotApplicable(reason) => {
                    not_applicable.push(format!("{} × {}: {reason}", case.name, sink.name()));
                    "n/a"
                }
                Cell::Skipped(reason) => {
                    skipped.push(format!("{} × {}: {reason}", case.name, sink.name()));
                    "skipped"
                }
            };
            row.push_str(&format!("{label:<9}"));
        }
        println!("{:<52} {row}", case.name);
    }

    let full_disk = if skipped.iter().any(|line| line.starts_with("full disk")) {
        "a writer failing with ENOSPC, a write callback that takes 256 KiB and a small buffer; \
         the tmpfs could not be mounted"
    } else {
        "a 256 KiB tmpfs for the path and folder sinks, a writer failing with ENOSPC, a write callback \
         that takes 256 KiB, a 256 KiB buffer"
    };
    println!(
        "fault matrix: {} cases × {} sinks = {} cells: {ran} ran, {} not applicable, {} skipped",
        cases.len(),
        sinks.len(),
        cases.len() * sinks.len(),
        not_applicable.len(),
        skipped.len()
    );
    for line in &not_applicable {
        println!("not applicable: {line}");
    }
    println!("full disk ran as: {full_disk}");
    for line in &skipped {
        println!("SKIPPED {line}");
    }

    assert!(
        failures.is_empty(),
        "{} of {ran} cells failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(ran > 0, "no cell ran");
}

#[test]
fn same_path_race_without_replacing() {
    // With "fail if it exists", exactly one of two racing downloads saves
    // its complete file and the other reports that the destination exists.
    let first = pattern(1024 * 1024, 47);
    let second = pattern(1024 * 1024, 48);
    let bodies = [first.clone(), second.clone()];
    let server = RawServer::start(move |mut conn| {
        let body = &bodies[conn.index() % 2];
        conn.send(&head("200 OK", &sized_headers(body.len())));
        conn.trickle(body, 64 * 1024, Duration::from_millis(5));
    });
    let client = support::client(&server.base_url(), support::fast_retries(2));
    let dir = tempfile::tempdir().unwrap();
    let destination = dir.path().join("race.bin");

    let results: Vec<_> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| client.download("race").to_path(&destination, IfExists::Fail)))
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });

    let wins = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(wins, 1, "exactly one download wins: {results:?}");
    let loser = results.iter().find_map(|result| result.as_ref().err()).unwrap();
    assert_eq!(
        loser.kind(),
        ErrorKind::DestinationExists,
        "the other one: {loser}"
    );
    let saved = std::fs::read(&destination).unwrap();
    assert!(
        saved == first || saved == second,
        "the saved file is one complete body, never a mix"
    );
    assert_eq!(
        folder_entries(dir.path()),
        vec!["race.bin"],
        "no temporary file is left"
    );
}
