//! The Rust client of the download benchmark that `bench/run.sh` drives.
//!
//! Each invocation does one timed job and prints one line,
//! `elapsed=<seconds> bytes=<count> files=<count>`, where `elapsed` runs from
//! just before the first request to just after the last body is saved. Work
//! that a real caller does once, such as building the client or allocating
//! and touching a reused buffer, happens before the clock starts. Peak memory
//! is measured from outside, by the script, on the whole process.
//!
//! Modes:
//! - `path`: `Download::to_path` into `--out`, one file per ID;
//! - `buffer`: `Download::to_slice` into a caller buffer of `--size` bytes, one per thread;
//! - `socket`: the ceiling for one file, a raw loopback TCP copy of `--file`
//!   with no HTTP at all;
//! - `raw-http`: the ceiling for many files, the same GET requests as the
//!   library sends, written by hand on one plain-HTTP keep-alive connection.
//!
//! The C API has its own client, `bench/c_client.c`, linked against the
//! C library.
//!
//! With no arguments, as under `cargo bench` or `cargo test --benches`, it
//! prints its usage and exits successfully without touching the network.

use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use tallyfy_files::{Client, IfExists, RetryPolicy};

const USAGE: &str = "\
usage: download path|path-nosync|buffer --base URL --org ID --token TOKEN --ids FILE
                [--ca PEM] [--out DIR] [--threads N] [--size BYTES]
       download socket --file PATH
       download raw-http --base http://HOST:PORT/PATH --org ID --token TOKEN --ids FILE

This program is the Rust client of the benchmark; run bench/run.sh instead.";

/// The parsed command line.
#[derive(Default)]
struct Options {
    mode: String,
    base: String,
    org: String,
    token: String,
    ca: Option<PathBuf>,
    ids: Vec<String>,
    out: Option<PathBuf>,
    threads: usize,
    size: usize,
    file: Option<PathBuf>,
}

/// The bytes and files that one job delivered.
#[derive(Default, Clone, Copy)]
struct Tally {
    bytes: u64,
    files: u64,
}

impl Tally {
    fn add(self, other: Tally) -> Tally {
        Tally {
            bytes: self.bytes + other.bytes,
            files: self.files + other.files,
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();

    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing.
    if args.first().is_none_or(|first| first.starts_with('-')) {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }

    match parse(&args).and_then(|options| run(&options)) {
        Ok((elapsed, tally)) => {
            println!(
                "elapsed={:.6} bytes={} files={}",
                elapsed.as_secs_f64(),
                tally.bytes,
                tally.files
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("download: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        mode: args[0].clone(),
        threads: 1,
        ..Options::default()
    };

    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?
            .clone();
        match flag.as_str() {
            "--base" => options.base = value,
            "--org" => options.org = value,
            "--token" => options.token = value,
            "--ca" => options.ca = Some(PathBuf::from(value)),
            "--out" => options.out = Some(PathBuf::from(value)),
            "--file" => options.file = Some(PathBuf::from(value)),
            "--ids" => {
                let text = std::fs::read_to_string(&value).map_err(|e| format!("reading {value}: {e}"))?;
                options.ids = text.split_whitespace().map(str::to_string).collect();
            }
            "--threads" => {
                options.threads = value.parse().map_err(|_| format!("invalid --threads {value}"))?
            }
            "--size" => options.size = value.parse().map_err(|_| format!("invalid --size {value}"))?,
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }

    if options.threads == 0 {
        return Err("--threads must be at least 1".to_string());
    }
    Ok(options)
}

fn run(options: &Options) -> Result<(Duration, Tally), String> {
    match options.mode.as_str() {
        "path" | "path-nosync" => {
            let out = options.out.as_deref().ok_or("path mode needs --out")?;
            let client = build_client(options)?;
            timed_threads(options, |_| (), |_, id| save_to_path(&client, id, out))
        }
        "buffer" => {
            if options.size == 0 {
                return Err("buffer mode needs --size, the size of the caller buffer".to_string());
            }
            let client = build_client(options)?;
            timed_threads(options, touched_buffer, |buffer, id| {
                read_into_buffer(&client, id, buffer)
            })
        }
        "socket" => {
            let file = options.file.as_deref().ok_or("socket mode needs --file")?;
            socket_copy(file)
        }
        "raw-http" => raw_http(options),
        other => Err(format!("unknown mode {other:?}\n{USAGE}")),
    }
}

fn build_client(options: &Options) -> Result<Client, String> {
    let mut builder = Client::builder()
        .token(options.token.as_str())
        .org_id(options.org.as_str())
        .base_url(options.base.as_str())
        // A failed request must fail the run, not hide inside a retry.
        .retry_policy(RetryPolicy::never())
        // path-nosync measures the save without its fsync calls, as curl saves.
        .sync_files(options.mode != "path-nosync");
    if let Some(ca) = &options.ca {
        builder = builder.ca_file(ca);
    }
    builder.build().map_err(|e| format!("building the client: {e}"))
}

/// Allocates a buffer and writes to every page, as a caller that reuses its
/// buffer would have done long before the download.
fn touched_buffer(size: usize) -> Vec<u8> {
    let mut buffer = vec![0u8; size];
    buffer.fill(0xa5);
    buffer
}

fn save_to_path(client: &Client, id: &str, out: &Path) -> Result<Tally, String> {
    let info = client
        .download(id)
        .to_path(out.join(id), IfExists::Replace)
        .map_err(|e| format!("downloading {id} to a path: {e}"))?;
    Ok(Tally {
        bytes: info.size,
        files: 1,
    })
}

fn read_into_buffer(client: &Client, id: &str, buffer: &mut [u8]) -> Result<Tally, String> {
    let info = client
        .download(id)
        .to_slice(buffer)
        .map_err(|e| format!("downloading {id} into a buffer: {e}"))?;
    Ok(Tally {
        bytes: info.size,
        files: 1,
    })
}

/// Splits the IDs over `--threads` threads, gives each thread the state that
/// `prepare` makes before the clock starts, and times the downloads.
fn timed_threads<S: Send>(
    options: &Options,
    prepare: impl Fn(usize) -> S,
    download: impl Fn(&mut S, &str) -> Result<Tally, String> + Sync,
) -> Result<(Duration, Tally), String> {
    let threads = options.threads.min(options.ids.len().max(1));
    let mut states: Vec<S> = (0..threads).map(|_| prepare(options.size)).collect();
    let download = &download;

    let started = Instant::now();
    let results: Vec<Result<Tally, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = states
            .iter_mut()
            .enumerate()
            .map(|(index, state)| {
                scope.spawn(move || {
                    let mut tally = Tally::default();
                    for id in options.ids.iter().skip(index).step_by(threads) {
                        tally = tally.add(download(state, id)?);
                    }
                    Ok(tally)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err("a download thread panicked".to_string()))
            })
            .collect()
    });
    let elapsed = started.elapsed();

    let mut total = Tally::default();
    for result in results {
        total = total.add(result?);
    }
    Ok((elapsed, total))
}

/// Sends `file` over a loopback TCP connection with `sendfile(2)` and reads
/// it into a 1 MiB buffer: the loopback rate with no HTTP and no server.
fn socket_copy(file: &Path) -> Result<(Duration, Tally), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding 127.0.0.1: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let source = file.to_path_buf();
    let mut buffer = touched_buffer(1024 * 1024);

    let started = Instant::now();
    let sender = std::thread::spawn(move || -> io::Result<u64> {
        let (socket, _) = listener.accept()?;
        let input = std::fs::File::open(source)?;
        send_file(&input, &socket)
    });

    let socket = TcpStream::connect(address).map_err(|e| format!("connecting to {address}: {e}"))?;
    let mut received = 0u64;
    loop {
        let count = recv_full(&socket, &mut buffer).map_err(|e| format!("reading the socket: {e}"))?;
        if count == 0 {
            break;
        }
        received += count as u64;
    }
    let elapsed = started.elapsed();

    let sent = sender
        .join()
        .map_err(|_| "the sending thread panicked".to_string())?
        .map_err(|e| format!("sending {}: {e}", file.display()))?;
    if sent != received {
        return Err(format!("sent {sent} bytes but received {received}"));
    }
    Ok((
        elapsed,
        Tally {
            bytes: received,
            files: 1,
        },
    ))
}

/// Sends the whole of `input` to `socket` with `sendfile(2)`, as nginx does,
/// and returns the number of bytes sent.
fn send_file(input: &std::fs::File, socket: &TcpStream) -> io::Result<u64> {
    use std::os::fd::AsRawFd;

    let mut sent = 0u64;
    loop {
        // SAFETY: both descriptors stay open for the call; a null offset
        // makes the kernel advance the file position itself.
        let count = unsafe {
            libc::sendfile(
                socket.as_raw_fd(),
                input.as_raw_fd(),
                std::ptr::null_mut(),
                1 << 30,
            )
        };
        match count {
            0 => return Ok(sent),
            n if n > 0 => sent += n as u64,
            _ => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
}

/// Reads until `buffer` is full or the peer closes, in as few system calls as
/// the kernel allows: `MSG_WAITALL` wakes the reader once per buffer instead
/// of once per arriving segment.
fn recv_full(socket: &TcpStream, buffer: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;

    // SAFETY: the pointer and length describe `buffer`, which outlives the call.
    let count = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            libc::MSG_WAITALL,
        )
    };
    if count < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(count as usize)
}

/// Fetches every ID in turn over one keep-alive connection with hand-written
/// HTTP/1.1: the least work a sequential client can do per file.
///
/// It understands only what the benchmark's nginx sends: a 200 status line,
/// headers with a `Content-Length`, then exactly that many body bytes.
fn raw_http(options: &Options) -> Result<(Duration, Tally), String> {
    let rest = options
        .base
        .strip_prefix("http://")
        .ok_or("raw-http mode needs an http:// base URL")?;
    let (host, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let mut body = touched_buffer(options.size.max(64 * 1024));
    let mut head = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];

    let started = Instant::now();
    let mut socket = TcpStream::connect(host).map_err(|e| format!("connecting to {host}: {e}"))?;
    socket.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut tally = Tally::default();
    for id in &options.ids {
        let request = format!(
            "GET /{prefix}/organizations/{}/file/{id}/dl HTTP/1.1\r\nHost: {host}\r\n\
             Authorization: Bearer {}\r\nX-Tallyfy-Client: APIClient\r\nAccept: */*\r\n\
             Accept-Encoding: identity\r\n\r\n",
            options.org, options.token
        );
        io::Write::write_all(&mut socket, request.as_bytes()).map_err(|e| format!("sending: {e}"))?;

        // Read until the blank line; whatever follows it is the body's start.
        head.clear();
        let header_end = loop {
            let count = socket
                .read(&mut chunk)
                .map_err(|e| format!("reading headers: {e}"))?;
            if count == 0 {
                return Err(format!("{id}: the server closed the connection"));
            }
            head.extend_from_slice(&chunk[..count]);
            if let Some(at) = head.windows(4).position(|window| window == b"\r\n\r\n") {
                break at + 4;
            }
        };
        let text = String::from_utf8_lossy(&head[..header_end]);
        if !text.starts_with("HTTP/1.1 200") {
            return Err(format!("{id}: unexpected response {:?}", text.lines().next()));
        }
        let length: usize = text
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .ok_or_else(|| format!("{id}: no Content-Length"))?;
        if length > body.len() {
            body.resize(length, 0);
        }

        let early = (head.len() - header_end).min(length);
        body[..early].copy_from_slice(&head[header_end..header_end + early]);
        let mut filled = early;
        while filled < length {
            let count = recv_full(&socket, &mut body[filled..length])
                .map_err(|e| format!("reading the body: {e}"))?;
            if count == 0 {
                return Err(format!("{id}: the server closed the connection mid-body"));
            }
            filled += count;
        }
        tally = tally.add(Tally {
            bytes: length as u64,
            files: 1,
        });
    }
    Ok((started.elapsed(), tally))
}
