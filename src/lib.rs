//! Download file assets from the Tallyfy API into a path, a folder, a writer
//! or a buffer, from blocking Rust code or through a C ABI.
//!
//! ```no_run
//! use tallyfy_files::{Client, IfExists};
//!
//! let client = Client::builder()
//!     .token(std::env::var("TALLYFY_ACCESS_TOKEN")?)
//!     .org_id(std::env::var("TALLYFY_ORG_ID")?)
//!     .build()?;
//! let info = client
//!     .download("0123456789abcdef0123456789abcdef")
//!     .to_path("report.pdf", IfExists::Replace)?;
//! println!("saved {} bytes ({})", info.size, info.file_name);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every download sends `Authorization: Bearer <token>`,
//! `X-Tallyfy-Client: APIClient`, `Accept: */*` and
//! `Accept-Encoding: identity`, so that the bytes saved are exactly the bytes
//! stored. Error statuses become [`Error`] values that carry the API's JSON
//! detail; transient failures are retried as [`RetryPolicy`] sets.

#![deny(missing_docs)]

mod client;
mod disposition;
mod error;
mod ffi;
mod filename;
mod ids;
mod redirect;
mod request;
mod retry;
mod sink;
mod transfer;

pub use client::{
    Client, ClientBuilder, DEFAULT_BASE_URL, DEFAULT_CLIENT_HEADER, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_REDIRECTS, DEFAULT_STALL_TIMEOUT,
};
pub use disposition::parse_file_name;
pub use error::{ApiErrorDetail, Error, ErrorKind};
pub use filename::sanitize_file_name;
pub use ids::validate_id;
pub use request::{Download, FileInfo, IfExists, Mode, NameConflict, ProgressFn};
pub use retry::RetryPolicy;
