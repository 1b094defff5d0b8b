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
//! To add a sink, implement [`MatrixSink`] and list it in [`sinks`]; every
//! case then runs against it.

mod support;

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
            expect,
            _keep: None,
        }
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

fn cases() -> Vec<Case> {
    let file = pattern(FILE_SIZE, 42);
    let mut cases = Vec::new();

    cases.push(Case::new(
        "control: a correct response",
        Expect::Delivers(vec![file.clone()]),
        serve_file(file.clone()),
    ));

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
        .payload(&file),
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
        .payload(&file),
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
        .payload(&file),
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

    let big = pattern(4 * FULL_CAPACITY, 44);
    cases.push(
        Case::new("full disk", Expect::DestinationFull, serve_file(big.clone()))
            .payload(&big)
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
            damage: Vec::new(),
        })
    }
}

// ---------------------------------------------------------------------------
// The run.

/// Checks one cell against the case's expectation. Returns the problems found.
fn check(case: &Case, sink: &dyn MatrixSink, observation: &Observation) -> Vec<String> {
    let mut problems = observation.damage.clone();

    match &case.expect {
        Expect::Delivers(bodies) => {
            for result in &observation.results {
                if let Err(kind) = result {
                    problems.push(format!("expected success, got {kind:?}"));
                }
            }
            if !bodies.contains(&observation.delivered) {
                problems.push(format!(
                    "delivered {} bytes that match none of the expected bodies",
                    observation.delivered.len()
                ));
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
            let delivered = &observation.delivered;
            if delivered.len() > allowed.len() || *delivered != allowed[..delivered.len()] {
                problems.push(format!(
                    "after the failure the sink holds {} bytes that are not a prefix of the file",
                    delivered.len()
                ));
            }
        }
    }
    problems
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
            .map(|sink| format!("{:<8}", sink.name()))
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
            let env = Env {
                client: &client,
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
            row.push_str(&format!("{label:<8}"));
        }
        println!("{:<52} {row}", case.name);
    }

    let full_disk = if skipped.iter().any(|line| line.starts_with("full disk")) {
        "a writer failing with ENOSPC and a small buffer; the tmpfs could not be mounted"
    } else {
        "a 256 KiB tmpfs for the path and folder sinks, a writer failing with ENOSPC, a 256 KiB buffer"
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
