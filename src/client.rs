//! The shared client: credentials, endpoints, timeouts, TLS and proxy settings.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use url::Url;

use crate::error::Error;
use crate::request::Download;
use crate::retry::RetryPolicy;

/// The base URL used when none is set.
pub const DEFAULT_BASE_URL: &str = "https://go.tallyfy.com/api";

/// The `X-Tallyfy-Client` header value used when none is set.
pub const DEFAULT_CLIENT_HEADER: &str = "APIClient";

/// How long connecting (DNS, TCP and TLS) may take when no timeout is set.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the server may send nothing before a download fails, when not set.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How many redirects one request follows at most, when not set.
pub const DEFAULT_MAX_REDIRECTS: u32 = 10;

/// A configured connection to the Tallyfy API.
///
/// Build one with [`Client::builder`] and share it: cloning is cheap (the
/// clones share one connection pool), and a `Client` may be used from many
/// threads at once. Its `Debug` output never shows the access token.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<ClientInner>,
}

pub(crate) struct ClientInner {
    pub(crate) agent: ureq::Agent,
    pub(crate) token: String,
    pub(crate) org_id: Option<String>,
    pub(crate) base_url: Url,
    pub(crate) client_header: String,
    pub(crate) deadline: Option<Duration>,
    pub(crate) max_redirects: u32,
    pub(crate) retry: RetryPolicy,
    pub(crate) sync_files: bool,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("token", &"<redacted>")
            .field("org_id", &self.inner.org_id)
            .field("base_url", &self.inner.base_url.as_str())
            .field("client_header", &self.inner.client_header)
            .field("deadline", &self.inner.deadline)
            .field("max_redirects", &self.inner.max_redirects)
            .field("retry", &self.inner.retry)
            .finish()
    }
}

impl Client {
    /// Starts building a client with the default settings.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Starts a download of one file, to be finished by a sink method such as
    /// [`Download::to_path`].
    ///
    /// The file ID is checked when the download runs, before any request.
    pub fn download(&self, file_id: &str) -> Download<'_> {
        Download::new(self, file_id)
    }

    /// Returns the base URL that requests are sent to.
    pub fn base_url(&self) -> &str {
        self.inner.base_url.as_str()
    }

    /// Returns the default organization ID, when one was set.
    pub fn org_id(&self) -> Option<&str> {
        self.inner.org_id.as_deref()
    }
}

/// Settings for a [`Client`]. Every setting has a default except the token.
#[derive(Clone)]
pub struct ClientBuilder {
    token: Option<String>,
    org_id: Option<String>,
    base_url: String,
    client_header: String,
    user_agent: String,
    connect_timeout: Option<Duration>,
    stall_timeout: Option<Duration>,
    deadline: Option<Duration>,
    ca_file: Option<PathBuf>,
    system_trust_store: bool,
    proxy: Option<String>,
    max_redirects: u32,
    retry: RetryPolicy,
    sync_files: bool,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("org_id", &self.org_id)
            .field("base_url", &self.base_url)
            .field("connect_timeout", &self.connect_timeout)
            .field("stall_timeout", &self.stall_timeout)
            .field("deadline", &self.deadline)
            .field("ca_file", &self.ca_file)
            .field("system_trust_store", &self.system_trust_store)
            .field("proxy", &self.proxy.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            token: None,
            org_id: None,
            base_url: DEFAULT_BASE_URL.to_string(),
            client_header: DEFAULT_CLIENT_HEADER.to_string(),
            user_agent: format!("tallyfy-files/{}", env!("CARGO_PKG_VERSION")),
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            stall_timeout: Some(DEFAULT_STALL_TIMEOUT),
            deadline: None,
            ca_file: None,
            system_trust_store: false,
            proxy: None,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            retry: RetryPolicy::default(),
            sync_files: true,
        }
    }
}

impl ClientBuilder {
    /// Sets the access token sent as `Authorization: Bearer <token>`. Required.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Sets the organization ID used when a download does not name one.
    pub fn org_id(mut self, org_id: impl Into<String>) -> Self {
        self.org_id = Some(org_id.into());
        self
    }

    /// Sets the API base URL, such as `https://api.tallyfy.com`.
    ///
    /// Defaults to [`DEFAULT_BASE_URL`]. A trailing `/` is ignored.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Sets the `X-Tallyfy-Client` header value. Defaults to `APIClient`.
    pub fn client_header(mut self, value: impl Into<String>) -> Self {
        self.client_header = value.into();
        self
    }

    /// Sets the `User-Agent` header value. Defaults to `tallyfy-files/<version>`.
    pub fn user_agent(mut self, value: impl Into<String>) -> Self {
        self.user_agent = value.into();
        self
    }

    /// Sets how long resolving, connecting and the TLS handshake may take.
    ///
    /// `None`, or a duration of 100 years or more such as `Duration::MAX`,
    /// waits as long as the operating system does. Defaults to 30 seconds.
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how long the server may send nothing, while headers or body are
    /// awaited, before the download fails with a timeout.
    ///
    /// The timer restarts with every read that returns data, so a slow but
    /// moving body is never cut off. The response headers must arrive in full
    /// within this time. `None`, or a duration of 100 years or more, waits
    /// forever. Defaults to 30 seconds.
    pub fn stall_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// Sets the longest a whole download may take, retries and redirects
    /// included. `None`, the default, or a duration of 100 years or more
    /// sets no limit.
    pub fn deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }

    /// Trusts the CA certificates in this PEM file for HTTPS.
    ///
    /// The file's certificates replace the built-in Mozilla roots (as curl's
    /// `--cacert` does), unless [`system_trust_store`](Self::system_trust_store)
    /// is also on, in which case the system store is used.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Verifies HTTPS certificates with the operating system's trust store
    /// instead of the built-in Mozilla roots. Off by default.
    pub fn system_trust_store(mut self, enabled: bool) -> Self {
        self.system_trust_store = enabled;
        self
    }

    /// Sends every request through this proxy, such as `http://proxy:3128`
    /// or `socks5://127.0.0.1:1080`.
    ///
    /// When no proxy is set, the `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and
    /// `NO_PROXY` environment variables apply.
    pub fn proxy(mut self, proxy: impl Into<String>) -> Self {
        self.proxy = Some(proxy.into());
        self
    }

    /// Sets how many redirects one request follows. Defaults to 10; 0 refuses any redirect.
    pub fn max_redirects(mut self, count: u32) -> Self {
        self.max_redirects = count;
        self
    }

    /// Chooses whether downloads to a path or a folder are synced to stable
    /// storage (`fsync` of the file, then of its folder) before they count as
    /// done. On by default.
    ///
    /// Turning it off keeps the atomic rename, so no reader ever sees a
    /// partial file, but a power loss or kernel crash soon after a download
    /// may leave the file empty or missing. It saves a disk flush per file,
    /// which matters for many small files on a real disk.
    pub fn sync_files(mut self, enabled: bool) -> Self {
        self.sync_files = enabled;
        self
    }

    /// Sets when and how often a failed download is tried again.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Checks the settings and builds the client.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidArgument`] for a missing or malformed token, an
    ///   organization ID that [`crate::validate_id`] rejects, a base URL that
    ///   is not an absolute `http` or `https` URL, a malformed header value or
    ///   proxy, or a CA file with no certificate.
    /// - [`Error::Io`] when the CA file cannot be read.
    pub fn build(self) -> Result<Client, Error> {
        let token = self
            .token
            .ok_or_else(|| Error::InvalidArgument("no access token was set".to_string()))?;
        check_token(&token)?;
        if let Some(org_id) = &self.org_id {
            crate::ids::validate_id("organization ID", org_id)?;
        }
        check_header_value("X-Tallyfy-Client value", &self.client_header)?;
        check_header_value("User-Agent value", &self.user_agent)?;
        let base_url = parse_base_url(&self.base_url)?;

        let root_certs = if self.system_trust_store {
            RootCerts::PlatformVerifier
        } else if let Some(path) = &self.ca_file {
            RootCerts::new_with_certs(&load_ca_file(path)?)
        } else {
            RootCerts::WebPki
        };
        let tls = TlsConfig::builder().root_certs(root_certs).build();

        let proxy = match &self.proxy {
            Some(spec) => Some(ureq::Proxy::new(spec).map_err(|_| {
                Error::InvalidArgument(
                    "the proxy setting is not a valid proxy URL such as http://host:3128".to_string(),
                )
            })?),
            None => ureq::Proxy::try_from_env(),
        };

        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(self.user_agent.as_str())
            .accept("*/*")
            .accept_encoding("identity")
            .timeout_connect(usable_timeout(self.connect_timeout))
            .timeout_per_read(usable_timeout(self.stall_timeout))
            // A server that trickles its headers a byte at a time never
            // trips the per-read timer, so the headers as a whole get the
            // same budget.
            .timeout_recv_response(usable_timeout(self.stall_timeout))
            .tls_config(tls)
            .proxy(proxy)
            .build();

        Ok(Client {
            inner: Arc::new(ClientInner {
                agent: config.new_agent(),
                token,
                org_id: self.org_id,
                base_url,
                client_header: self.client_header,
                deadline: usable_timeout(self.deadline),
                max_redirects: self.max_redirects,
                retry: self.retry,
                sync_files: self.sync_files,
            }),
        })
    }
}

/// Timeouts at least this long are treated as no timeout.
///
/// ureq adds a timeout to the current `Instant`, which panics past the end
/// of the clock, so `Duration::MAX` (a common way to write "forever") must
/// not reach it.
const NO_TIMEOUT_FROM: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// Turns a timeout so long that it cannot expire into no timeout.
fn usable_timeout(timeout: Option<Duration>) -> Option<Duration> {
    timeout.filter(|limit| *limit < NO_TIMEOUT_FROM)
}

/// Rejects tokens that would break or inject into the `Authorization` header.
///
/// The message never repeats the token.
fn check_token(token: &str) -> Result<(), Error> {
    if token.is_empty() {
        return Err(Error::InvalidArgument("the access token is empty".to_string()));
    }
    // RFC 6750 limits a bearer token to these characters, which also keeps
    // it unchanged when messages quote or escape text, so redaction finds it.
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
    let body = token.trim_end_matches('=');
    if body.is_empty() || !body.bytes().all(allowed) {
        return Err(Error::InvalidArgument(
            "the access token is invalid: RFC 6750 allows only ASCII letters, digits, \
             '-', '.', '_', '~', '+', '/' and trailing '='"
                .to_string(),
        ));
    }
    Ok(())
}

fn check_header_value(what: &str, value: &str) -> Result<(), Error> {
    if value.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
        return Err(Error::InvalidArgument(format!(
            "the {what} {value:?} contains control characters"
        )));
    }
    Ok(())
}

fn parse_base_url(text: &str) -> Result<Url, Error> {
    let url = Url::parse(text.trim_end_matches('/'))
        .map_err(|e| Error::InvalidArgument(format!("base URL {text:?} is not a valid URL: {e}")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(Error::InvalidArgument(format!(
            "base URL {text:?} must start with https:// or http://"
        )));
    }
    if url.host().is_none() || url.cannot_be_a_base() {
        return Err(Error::InvalidArgument(format!("base URL {text:?} has no host")));
    }
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(Error::InvalidArgument(format!(
            "base URL {text:?} must not contain credentials, a query or a fragment"
        )));
    }
    Ok(url)
}

fn load_ca_file(path: &Path) -> Result<Vec<Certificate<'static>>, Error> {
    let pem = std::fs::read(path).map_err(|source| Error::Io {
        action: "reading the CA file",
        path: path.to_path_buf(),
        source,
    })?;

    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::InvalidArgument(format!(
                    "CA file '{}' is not valid PEM: {e}",
                    path.display()
                )));
            }
        }
    }
    if certs.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "CA file '{}' contains no certificate",
            path.display()
        )));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_token() {
        let client = Client::builder().token("s3cr3t-token-value").build().unwrap();
        let shown = format!("{client:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        let builder = Client::builder().token("s3cr3t-token-value");
        assert!(!format!("{builder:?}").contains("s3cr3t"));
    }

    #[test]
    fn client_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Client>();
    }

    #[test]
    fn rejects_bad_settings() {
        assert!(Client::builder().build().is_err());
        assert!(Client::builder().token("").build().is_err());
        assert!(Client::builder().token("a\r\nX-Evil: 1").build().is_err());
        assert!(Client::builder().token("t").base_url("ftp://x").build().is_err());
        assert!(Client::builder()
            .token("t")
            .base_url("not a url")
            .build()
            .is_err());
        assert!(Client::builder()
            .token("t")
            .base_url("https://x/api?q=1")
            .build()
            .is_err());
        assert!(Client::builder().token("t").org_id("../x").build().is_err());
        assert!(Client::builder().token("t").proxy("::::").build().is_err());
    }

    #[test]
    fn token_error_hides_token() {
        let err = Client::builder().token("abc def-secret").build().unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
