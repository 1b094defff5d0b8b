//! An HTTPS listener on 127.0.0.1 whose certificate no client trusts.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Accepts connections and runs the TLS handshake with a fresh self-signed
/// certificate for 127.0.0.1, so that every client with the default roots
/// fails certificate verification.
pub struct UntrustedTlsServer {
    port: u16,
    connections: Arc<AtomicUsize>,
    stopping: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl UntrustedTlsServer {
    pub fn start() -> UntrustedTlsServer {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
            .expect("generating a self-signed certificate");
        let cert_der = certified.cert.der().clone();
        let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert_der], key_der)
            .expect("building the TLS server configuration");
        let config = Arc::new(config);

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let stopping = Arc::new(AtomicBool::new(false));

        let (count, stop) = (connections.clone(), stopping.clone());
        let acceptor = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut connection = rustls::ServerConnection::new(config.clone()).unwrap();
                // The client aborts the handshake; its alert ends this loop.
                while connection.is_handshaking() {
                    if connection.complete_io(&mut stream).is_err() {
                        break;
                    }
                }
            }
        });

        UntrustedTlsServer {
            port,
            connections,
            stopping,
            acceptor: Some(acceptor),
        }
    }

    /// Returns the API base URL on this server, `https://127.0.0.1:PORT/api`.
    pub fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}/api", self.port)
    }

    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for UntrustedTlsServer {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}
