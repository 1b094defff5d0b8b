//! Raw HTTP/1.1 servers on 127.0.0.1 and other helpers for the reliability tests.
//!
//! Each test binary includes this module with `mod support;` and uses only a
//! part of it, hence the `dead_code` allowance below.

#![allow(dead_code)]

pub mod logs;
pub mod mounts;
pub mod sinks;
pub mod tls;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tallyfy_files::{Client, RetryPolicy};

/// The token every test client sends.
pub const TOKEN: &str = "test-token-7f3a";

/// The organization ID every test client uses.
pub const ORG_ID: &str = "org1";

/// The longest a server waits for a request before it gives up on a connection.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(20);

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Global number of the request on its server, from 0.
    pub index: usize,
    pub method: String,
    pub path: String,
    /// Header names in lower case, values trimmed, in the order received.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// Returns the first value of header `name` (any letter case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Returns the start offset of a `Range: bytes=N-` header.
    pub fn range_start(&self) -> Option<u64> {
        let value = self.header("range")?;
        let spec = value.strip_prefix("bytes=")?;
        spec.strip_suffix('-')?.parse().ok()
    }
}

struct Shared {
    stopping: AtomicBool,
    next_index: AtomicUsize,
    connections: AtomicUsize,
    requests: Mutex<Vec<Request>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

/// One accepted connection, handed to a server's handler.
pub struct Conn {
    stream: TcpStream,
    shared: Arc<Shared>,
    pending: Vec<u8>,
    request: Option<Request>,
}

impl Conn {
    /// Returns the request that opened this exchange.
    pub fn request(&self) -> &Request {
        self.request
            .as_ref()
            .expect("the handler runs after a request was read")
    }

    /// Returns the global number of the current request, from 0.
    pub fn index(&self) -> usize {
        self.request().index
    }

    /// Reads the next request on a kept-alive connection. Returns false when
    /// the client closed the connection or the server is stopping.
    pub fn next_request(&mut self) -> bool {
        match read_request(&mut self.stream, &mut self.pending, &self.shared) {
            Some(request) => {
                self.request = Some(request);
                true
            }
            None => false,
        }
    }

    /// Writes `data`, returning false when the client is gone.
    pub fn send(&mut self, data: &[u8]) -> bool {
        self.stream
            .write_all(data)
            .and_then(|_| self.stream.flush())
            .is_ok()
    }

    /// Writes `data` in pieces of `piece` bytes with `gap` between them.
    /// Returns false when the client is gone or the server is stopping.
    pub fn trickle(&mut self, data: &[u8], piece: usize, gap: Duration) -> bool {
        for (number, part) in data.chunks(piece.max(1)).enumerate() {
            if number > 0 && !self.pause(gap) {
                return false;
            }
            if !self.send(part) {
                return false;
            }
        }
        true
    }

    /// Sleeps for `duration` unless the server stops first. Returns false if it stopped.
    pub fn pause(&self, duration: Duration) -> bool {
        let until = Instant::now() + duration;
        while Instant::now() < until {
            if self.shared.stopping.load(Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(10)));
        }
        true
    }

    /// Keeps the connection open, sending nothing, until the server stops.
    pub fn hold_open(&self) {
        while !self.shared.stopping.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Closes the connection with a FIN, after everything sent so far.
    ///
    /// Responses built by [`head`] carry `Connection: close`, so the client
    /// sends nothing more that could turn this FIN into a reset.
    pub fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Aborts the connection with a TCP reset (RST) instead of a FIN.
    pub fn reset(self) {
        reset_stream(&self.stream);
    }
}

/// Sets `SO_LINGER` to zero so that closing the socket sends a TCP reset.
fn reset_stream(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor is open for the life of `stream`, and the option
    // value points at a live `linger` of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setting SO_LINGER failed: {}", io::Error::last_os_error());
}

/// Reads one request head (GET requests carry no body). Returns `None` at end of stream.
fn read_request(stream: &mut TcpStream, pending: &mut Vec<u8>, shared: &Shared) -> Option<Request> {
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if shared.stopping.load(Ordering::SeqCst) {
            return None;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return None,
            Ok(count) => pending.extend_from_slice(&chunk[..count]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    };

    let head = String::from_utf8_lossy(&pending[..end]).into_owned();
    pending.drain(..end + 4);

    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();

    let request = Request {
        index: shared.next_index.fetch_add(1, Ordering::SeqCst),
        method,
        path,
        headers,
    };
    shared.requests.lock().unwrap().push(request.clone());
    Some(request)
}

/// A scripted HTTP server on 127.0.0.1 that runs `handler` for each
/// connection once its first request has been read.
///
/// Dropping the server stops it: handlers that hold a connection open or
/// pause see the stop and return, and every thread is joined.
pub struct RawServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl RawServer {
    /// Starts a server whose handler gets each connection with its first request read.
    pub fn start<F>(handler: F) -> RawServer
    where
        F: Fn(Conn) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a test server on 127.0.0.1");
        RawServer::serve(listener, true, handler)
    }

    /// Starts a server whose handler gets each connection as soon as it is
    /// accepted, before anything is read, as for a server that talks first.
    pub fn start_raw<F>(handler: F) -> RawServer
    where
        F: Fn(Conn) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a test server on 127.0.0.1");
        RawServer::serve(listener, false, handler)
    }

    /// Serves on a listener the test already holds.
    pub fn on_listener<F>(listener: TcpListener, handler: F) -> RawServer
    where
        F: Fn(Conn) + Send + Sync + 'static,
    {
        RawServer::serve(listener, true, handler)
    }

    fn serve<F>(listener: TcpListener, read_first: bool, handler: F) -> RawServer
    where
        F: Fn(Conn) + Send + Sync + 'static,
    {
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            stopping: AtomicBool::new(false),
            next_index: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            workers: Mutex::new(Vec::new()),
        });
        let handler = Arc::new(handler);

        let accept_shared = shared.clone();
        let acceptor = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_shared.stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                accept_shared.connections.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_read_timeout(Some(REQUEST_READ_TIMEOUT));

                let shared = accept_shared.clone();
                let handler = handler.clone();
                let worker = std::thread::spawn(move || {
                    let mut pending = Vec::new();
                    let mut request = None;
                    if read_first {
                        request = read_request(&mut stream, &mut pending, &shared);
                        if request.is_none() {
                            return;
                        }
                    }
                    handler(Conn {
                        stream,
                        shared,
                        pending,
                        request,
                    });
                });
                let mut workers = accept_shared.workers.lock().unwrap();
                workers.retain(|handle| !handle.is_finished());
                workers.push(worker);
            }
        });

        RawServer {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// Returns the base URL of the API on this server, `http://127.0.0.1:PORT/api`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// Returns `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Returns every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        let mut requests = self.shared.requests.lock().unwrap().clone();
        requests.sort_by_key(|request| request.index);
        requests
    }

    /// Returns the number of requests received so far.
    pub fn request_count(&self) -> usize {
        self.shared.requests.lock().unwrap().len()
    }

    /// Returns the number of connections accepted so far.
    pub fn connection_count(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Stops accepting, wakes every handler and joins all threads.
    pub fn stop(&mut self) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        // Wake the blocked accept() with a connection of our own.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let workers = std::mem::take(&mut *self.shared.workers.lock().unwrap());
        for worker in workers {
            let _ = worker.join();
        }
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Builds a response head: status line, the given headers and the blank line.
///
/// Adds `Connection: close` unless `headers` has a `Connection` header, so
/// that the client never reuses a scripted connection for its next attempt.
pub fn head(status: &str, headers: &[(&str, String)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("connection"))
    {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Builds a complete response with a correct `Content-Length`.
pub fn response(status: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut all: Vec<(&str, String)> = headers.to_vec();
    all.push(("Content-Length", body.len().to_string()));
    let mut out = head(status, &all);
    out.extend_from_slice(body);
    out
}

/// Headers of a normal file download named `name`.
pub fn file_headers(name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Content-Type", "application/octet-stream".to_string()),
        ("Content-Disposition", format!("attachment; filename=\"{name}\"")),
    ]
}

/// Returns `len` bytes of a deterministic pattern that differs with `seed`,
/// so that a shifted, mixed or restarted body never compares equal by chance.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A retry policy with millisecond waits, so that retry tests run fast.
pub fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_wait: Duration::from_secs(5),
        max_total_wait: Duration::from_secs(10),
    }
}

/// Builds a client for `base_url` with the test token and organization.
pub fn client(base_url: &str, policy: RetryPolicy) -> Client {
    Client::builder()
        .token(TOKEN)
        .org_id(ORG_ID)
        .base_url(base_url)
        .retry_policy(policy)
        .build()
        .expect("building a test client")
}

/// A TCP port on 127.0.0.1 that is bound but not listening, so every
/// connection to it is refused, and no other process can take it meanwhile.
pub struct RefusingPort {
    fd: OwnedFd,
    port: u16,
}

impl RefusingPort {
    pub fn new() -> RefusingPort {
        // SAFETY: plain socket calls on a descriptor this function owns; the
        // address structures live on the stack for the duration of each call.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "socket() failed: {}", io::Error::last_os_error());
            let fd = OwnedFd::from_raw_fd(fd);

            let one: libc::c_int = 1;
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                &one as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );

            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
            addr.sin_port = 0;
            let rc = libc::bind(
                fd.as_raw_fd(),
                &addr as *const libc::sockaddr_in as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
            assert_eq!(rc, 0, "bind() failed: {}", io::Error::last_os_error());

            let mut bound: libc::sockaddr_in = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let rc = libc::getsockname(
                fd.as_raw_fd(),
                &mut bound as *mut libc::sockaddr_in as *mut libc::sockaddr,
                &mut len,
            );
            assert_eq!(rc, 0, "getsockname() failed: {}", io::Error::last_os_error());

            RefusingPort {
                fd,
                port: u16::from_be(bound.sin_port),
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts listening on the port, so that connections succeed from now on.
    pub fn listen(self) -> TcpListener {
        // SAFETY: the descriptor is a bound TCP socket owned by `self`.
        let rc = unsafe { libc::listen(self.fd.as_raw_fd(), 128) };
        assert_eq!(rc, 0, "listen() failed: {}", io::Error::last_os_error());
        TcpListener::from(self.fd)
    }
}

/// A writer that takes `capacity` bytes and then fails with ENOSPC, as a
/// file on a full disk does.
#[derive(Debug, Default)]
pub struct FullDiskWriter {
    pub capacity: usize,
    pub taken: Vec<u8>,
}

impl FullDiskWriter {
    pub fn new(capacity: usize) -> FullDiskWriter {
        FullDiskWriter {
            capacity,
            taken: Vec::new(),
        }
    }
}

impl Write for FullDiskWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.capacity - self.taken.len();
        if room == 0 {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        let count = room.min(data.len());
        self.taken.extend_from_slice(&data[..count]);
        Ok(count)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Lists the names in `folder`, sorted.
pub fn folder_entries(folder: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
