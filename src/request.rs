//! One download: which file, how to ask for it, and where its bytes go.

use std::fmt;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::client::Client;
use crate::error::Error;
use crate::sink::{FolderSink, PathSink, SliceSink, VecSink, WriterSink};

/// The endpoint that serves the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `…/file/{id}/dl`: raw bytes as `application/octet-stream` with the
    /// original name in `Content-Disposition`. Works for every file.
    #[default]
    Attachment,
    /// `…/file/{id}`: the same bytes with the file's real MIME type. The API
    /// returns 404 here for files on tasks of running processes.
    Inline,
}

/// The policy of [`Download::to_path`] for a destination that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfExists {
    /// Fail with [`Error::DestinationExists`] and leave the file alone.
    Fail,
    /// Replace the file atomically once the whole body has arrived.
    Replace,
}

/// The policy of [`Download::to_folder`] for a file name that is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameConflict {
    /// Fail with [`Error::DestinationExists`].
    Fail,
    /// Save as `name (1).ext`, `name (2).ext` and so on.
    Unique,
    /// Replace the existing file atomically once the whole body has arrived.
    Replace,
}

/// A progress callback: bytes received so far, and the total when known.
///
/// Returning [`ControlFlow::Break`] stops the download with
/// [`Error::AbortedByCallback`]. When a retry starts the body again, the
/// callback is called again with 0 bytes received.
pub type ProgressFn<'a> = dyn FnMut(u64, Option<u64>) -> ControlFlow<()> + 'a;

/// The result of a finished download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The server's file name made safe with [`crate::sanitize_file_name`],
    /// or `tallyfy-file-<file ID>` when the server sent no usable name. For
    /// [`Download::to_folder`], the name the file was saved under, which
    /// differs from the server's with [`NameConflict::Unique`].
    pub file_name: String,
    /// The file name exactly as the server sent it, when it sent one.
    pub server_file_name: Option<String>,
    /// The `Content-Type` header, when sent.
    pub content_type: Option<String>,
    /// The number of body bytes delivered.
    pub size: u64,
    /// The HTTP status of the final response, such as 200.
    pub status: u16,
    /// The saved file's path, for the path and folder sinks.
    pub path: Option<PathBuf>,
}

/// A download being set up. Created by [`Client::download`] and run by one
/// of its `to_*` methods, which consume it.
pub struct Download<'a> {
    pub(crate) client: &'a Client,
    pub(crate) file_id: String,
    pub(crate) org_id: Option<String>,
    pub(crate) mode: Mode,
    pub(crate) max_size: Option<u64>,
    pub(crate) progress: Option<Box<ProgressFn<'a>>>,
}

impl fmt::Debug for Download<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("file_id", &self.file_id)
            .field("org_id", &self.org_id)
            .field("mode", &self.mode)
            .field("max_size", &self.max_size)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl<'a> Download<'a> {
    pub(crate) fn new(client: &'a Client, file_id: &str) -> Self {
        Download {
            client,
            file_id: file_id.to_string(),
            org_id: None,
            mode: Mode::Attachment,
            max_size: None,
            progress: None,
        }
    }

    /// Chooses the endpoint. Defaults to [`Mode::Attachment`].
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Uses the inline endpoint, as `mode(Mode::Inline)`.
    pub fn inline(self) -> Self {
        self.mode(Mode::Inline)
    }

    /// Downloads from this organization instead of the client's default.
    pub fn org_id(mut self, org_id: impl Into<String>) -> Self {
        self.org_id = Some(org_id.into());
        self
    }

    /// Fails with [`Error::TooLarge`] when the file is larger than `bytes`.
    ///
    /// A declared `Content-Length` above the limit fails before any byte is
    /// written; a body without one fails as soon as it passes the limit.
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// Calls `callback` as bytes arrive; see [`ProgressFn`].
    pub fn progress(mut self, callback: impl FnMut(u64, Option<u64>) -> ControlFlow<()> + 'a) -> Self {
        self.progress = Some(Box::new(callback));
        self
    }

    /// Saves the file at `path`, atomically.
    ///
    /// The body streams into a temporary file in the same folder, which is
    /// flushed, synced (unless [`crate::ClientBuilder::sync_files`] is off)
    /// and renamed over `path` only after the whole body arrived. On any
    /// failure an existing file at `path` is left unchanged and the temporary
    /// file is removed.
    ///
    /// # Errors
    ///
    /// - [`Error::DestinationExists`] when `path` exists and `if_exists` is
    ///   [`IfExists::Fail`], checked before the request and again at the rename.
    /// - [`Error::InvalidArgument`] when `path` is a folder, or a device, FIFO
    ///   or socket that [`IfExists::Replace`] would destroy.
    /// - [`Error::Io`] when the folder is missing or not writable.
    /// - Any network or HTTP error of the download.
    pub fn to_path(self, path: impl AsRef<Path>, if_exists: IfExists) -> Result<FileInfo, Error> {
        let mut sink = PathSink::new(path.as_ref(), if_exists, self.client.inner.sync_files)?;
        crate::transfer::run(self, &mut sink)
    }

    /// Saves the file in `folder` under the name the server sent.
    ///
    /// The name comes from `Content-Disposition` and is made safe with
    /// [`crate::sanitize_file_name`]. The file appears only once complete, and
    /// an existing file is replaced only with [`NameConflict::Replace`].
    ///
    /// # Errors
    ///
    /// - [`Error::DestinationExists`] when the name is taken and `on_conflict`
    ///   is [`NameConflict::Fail`].
    /// - [`Error::Io`] when the folder is missing or not writable.
    /// - Any network or HTTP error of the download.
    pub fn to_folder(self, folder: impl AsRef<Path>, on_conflict: NameConflict) -> Result<FileInfo, Error> {
        let mut sink = FolderSink::new(folder.as_ref(), on_conflict, self.client.inner.sync_files)?;
        crate::transfer::run(self, &mut sink)
    }

    /// Writes the body to `writer` as it arrives, and flushes it at the end.
    ///
    /// Bytes already written stay written when the download fails later: a
    /// writer cannot be rewound, so a failure after the first byte is retried
    /// only by resuming at the same offset.
    ///
    /// # Errors
    ///
    /// [`Error::Write`] when the writer fails; any network or HTTP error.
    pub fn to_writer<W: Write>(self, writer: &mut W) -> Result<FileInfo, Error> {
        let mut sink = WriterSink::new(writer);
        crate::transfer::run(self, &mut sink)
    }

    /// Reads the body straight into `buffer`, and returns its size in
    /// [`FileInfo::size`]. Nothing is written past the end of `buffer`.
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] when the body is larger than `buffer`, with
    /// the size the server declared when it declared one; the buffer's
    /// contents are then unspecified. Any network or HTTP error.
    pub fn to_slice(self, buffer: &mut [u8]) -> Result<FileInfo, Error> {
        let mut sink = SliceSink::new(buffer);
        crate::transfer::run(self, &mut sink)
    }

    /// Returns the body in a new `Vec`, failing once it passes `max_size` bytes.
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] when the body is larger than `max_size`; any
    /// network or HTTP error.
    pub fn to_vec(mut self, max_size: u64) -> Result<(Vec<u8>, FileInfo), Error> {
        self.max_size = Some(self.max_size.map_or(max_size, |limit| limit.min(max_size)));
        let mut sink = VecSink::default();
        let info = crate::transfer::run(self, &mut sink)?;
        Ok((sink.into_inner(), info))
    }
}
