//! Shared helpers for the integration tests: clients aimed at 127.0.0.1,
//! test data, folder checks, and a scripted HTTP/1.1 server (plain or TLS)
//! for the faults that httpmock cannot produce.
//!
//! Each test binary includes this module with `mod common;` and uses only a
//! part of it, so unused items are allowed here.

#![allow(dead_code)]

use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tallyfy_files::{Client, ClientBuilder, RetryPolicy};

/// The access token of every test client. Long and distinctive, so a search
/// for it in a message cannot match by accident.
pub const TOKEN: &str = "tok-9Qv7Zr2Xw5Lp8Kd3";

/// The default organization ID of every test client.
pub const ORG: &str = "org1";

/// A file ID in Tallyfy's format: 32 hexadecimal digits.
pub const FILE_ID: &str = "0123456789abcdef0123456789abcdef";

/// Returns the path of the attachment endpoint for `file_id` under the `/api` base path.
pub fn dl_path(file_id: &str) -> String {
    format!("/api/organizations/{ORG}/file/{file_id}/dl")
}

/// Returns a client builder with the test token and organization, aimed at
/// `base_url` (always a 127.0.0.1 address), and with retries turned off.
///
/// The stall timeout is short so that a test of a stalled server fails fast
/// instead of waiting for the 30-second default.
pub fn builder(base_url: &str) -> ClientBuilder {
    Client::builder()
        .token(TOKEN)
        .org_id(ORG)
        .base_url(base_url)
        .connect_timeout(Some(Duration::from_secs(5)))
        .stall_timeout(Some(Duration::from_secs(5)))
        .retry_policy(RetryPolicy::never())
}

/// Returns a built client for `base_url`, configured as [`builder`] describes.
pub fn client(base_url: &str) -> Client {
    builder(base_url)
        .build()
        .expect("the test client settings are valid")
}

/// Returns a retry policy with `attempts` attempts and millisecond back-offs.
pub fn quick_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: attempts,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        ..RetryPolicy::default()
    }
}

/// Returns `len` bytes of a repeatable pseudo-random pattern, so that a
/// shifted, repeated or dropped block shows up in a byte comparison.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Reads a fixture from `tests/fixtures`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()))
}

/// Returns the sorted names of the entries in `dir`, hidden ones included.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Asserts that `dir` contains exactly the entries `expected`, so that a
/// leftover temporary file or a stray download fails the test.
pub fn assert_entries(dir: &Path, expected: &[&str]) {
    let mut expected: Vec<String> = expected.iter().map(|name| name.to_string()).collect();
    expected.sort();
    assert_eq!(entries(dir), expected, "entries of {}", dir.display());
}

/// Asserts that the text of an error, and its `Debug` form, never show the token.
pub fn assert_no_token(err: &tallyfy_files::Error) {
    let shown = err.to_string();
    assert!(!shown.contains(TOKEN), "the message shows the token: {shown}");
    let debug = format!("{err:?}");
    assert!(
        !debug.contains(TOKEN),
        "the Debug output shows the token: {debug}"
    );
}

/// Returns an HTTP/1.1 response head with `Connection: close` and the given
/// extra header lines (each without its CRLF).
pub fn head(status_line: &str, headers: &[&str]) -> Vec<u8> {
    let mut text = format!("HTTP/1.1 {status_line}\r\n");
    for line in headers {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("Connection: close\r\n\r\n");
    text.into_bytes()
}

/// One step of a scripted reply on one connection.
pub enum Step {
    /// Sends these bytes and flushes them.
    Send(Vec<u8>),
    /// Waits this long before the next step.
    Pause(Duration),
    /// Keeps the connection open, sending nothing, until the server is dropped.
    Hold,
}

/// A scripted reply: the steps run in order, then the connection is closed.
pub type Reply = Vec<Step>;

/// Returns a reply that sends `bytes` at once and closes.
pub fn send(bytes: Vec<u8>) -> Reply {
    vec![Step::Send(bytes)]
}

/// A server on 127.0.0.1 that replies to the n-th connection with the n-th
/// scripted reply, over plain TCP or TLS. It records each request head.
///
/// Dropping the server releases any held connection and joins its thread.
pub struct ScriptedServer {
    address: SocketAddr,
    scheme: &'static str,
    requests: Arc<Mutex<Vec<String>>>,
    release: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ScriptedServer {
    /// Starts a plain HTTP server with these replies.
    pub fn start(replies: Vec<Reply>) -> ScriptedServer {
        Self::spawn(|_| replies, None)
    }

    /// Starts an HTTPS server with these replies and the certificate in `tls`.
    pub fn start_tls(tls: &TestCa, replies: Vec<Reply>) -> ScriptedServer {
        Self::spawn(|_| replies, Some(tls.server_config.clone()))
    }

    /// Starts an HTTPS server whose replies `make_replies` builds from the
    /// port it listens on, for replies that point back at the server itself.
    pub fn start_tls_with(tls: &TestCa, make_replies: impl FnOnce(u16) -> Vec<Reply>) -> ScriptedServer {
        Self::spawn(make_replies, Some(tls.server_config.clone()))
    }

    fn spawn(
        make_replies: impl FnOnce(u16) -> Vec<Reply>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1");
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let replies = make_replies(address.port());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (release, released) = mpsc::channel();

        let scheme = if tls.is_some() { "https" } else { "http" };

        let recorded = requests.clone();
        let thread = std::thread::spawn(move || serve(listener, replies, tls, recorded, released));

        ScriptedServer {
            address,
            scheme,
            requests,
            release: Some(release),
            thread: Some(thread),
        }
    }

    /// Returns `scheme://127.0.0.1:port` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.address)
    }

    /// Returns the port the server listens on.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Returns the request heads received so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        drop(self.release.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How often the accept loop checks whether the server was dropped.
const ACCEPT_POLL: Duration = Duration::from_millis(5);

/// The maximum time a held connection or a read of a request waits, as a
/// safety net for a test that never finishes its download.
const SAFETY_LIMIT: Duration = Duration::from_secs(20);

fn serve(
    listener: TcpListener,
    replies: Vec<Reply>,
    tls: Option<Arc<rustls::ServerConfig>>,
    requests: Arc<Mutex<Vec<String>>>,
    released: Receiver<()>,
) {
    for reply in replies {
        // Wait for the next connection, or stop when the server is dropped.
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => match released.recv_timeout(ACCEPT_POLL) {
                    Err(RecvTimeoutError::Timeout) => continue,
                    _ => return,
                },
                Err(_) => return,
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(SAFETY_LIMIT)).unwrap();

        match &tls {
            None => {
                let mut plain = stream.try_clone().unwrap();
                run_reply(&mut plain, reply, &requests, &released);
                let _ = stream.shutdown(Shutdown::Both);
            }
            Some(config) => {
                let connection = rustls::ServerConnection::new(config.clone()).unwrap();
                let mut secure = rustls::StreamOwned::new(connection, stream);
                run_reply(&mut secure, reply, &requests, &released);
                secure.conn.send_close_notify();
                let _ = secure.flush();
                let _ = secure.sock.shutdown(Shutdown::Both);
            }
        }
    }

    // Keep the listener open, refusing nothing, until the server is dropped.
    let _ = released.recv_timeout(SAFETY_LIMIT);
}

fn run_reply(
    stream: &mut (impl Read + Write),
    reply: Reply,
    requests: &Mutex<Vec<String>>,
    released: &Receiver<()>,
) {
    let Some(request) = read_request_head(stream) else {
        return;
    };
    requests.lock().unwrap().push(request);

    for step in reply {
        match step {
            Step::Send(bytes) => {
                if stream.write_all(&bytes).and_then(|_| stream.flush()).is_err() {
                    return;
                }
            }
            Step::Pause(wait) => std::thread::sleep(wait),
            Step::Hold => {
                let _ = released.recv_timeout(SAFETY_LIMIT);
            }
        }
    }
}

/// Reads up to the blank line that ends a request head. Returns `None` when
/// the client closed the connection or the TLS handshake failed.
fn read_request_head(stream: &mut impl Read) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// Returns the value of header `name` in a recorded request head, if present.
pub fn request_header(request: &str, name: &str) -> Option<String> {
    request.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_string())
    })
}

/// A test certificate authority and a server certificate for 127.0.0.1
/// signed by it, with the CA certificate saved as a PEM file for
/// [`ClientBuilder::ca_file`].
pub struct TestCa {
    /// The PEM file that contains the CA certificate.
    pub ca_file: PathBuf,
    server_config: Arc<rustls::ServerConfig>,
    _folder: tempfile::TempDir,
}

impl TestCa {
    /// Generates a fresh CA and a server certificate for `127.0.0.1` and `localhost`.
    pub fn new() -> TestCa {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "tallyfy-files test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();

        let server_key = rcgen::KeyPair::generate().unwrap();
        let server_params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        let server_cert = server_params.signed_by(&server_key, &ca).unwrap();

        let folder = tempfile::tempdir().unwrap();
        let ca_file = folder.path().join("ca.pem");
        fs::write(&ca_file, ca.pem()).unwrap();

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
        let server_config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![server_cert.der().clone()], key_der)
            .unwrap();

        TestCa {
            ca_file,
            server_config: Arc::new(server_config),
            _folder: folder,
        }
    }
}
