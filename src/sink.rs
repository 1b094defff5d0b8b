//! Destinations for a download body: a path, a folder, a writer, a slice or a `Vec`.
//!
//! The transfer engine drives a sink through `begin` (once the final response
//! headers are known and successful), `write` or the direct buffer (for each
//! part of the body), `restart` (when a retry must start the body again) and
//! `finish`. A sink that is dropped without `finish` leaves nothing behind
//! that it created: the file sinks delete their temporary file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::error::Error;
use crate::filename::numbered_file_name;
use crate::request::{IfExists, NameConflict};
use crate::transfer::ResponseMeta;

/// The maximum number of names tried by [`NameConflict::Unique`] before giving up.
const MAX_UNIQUE_NAMES: u32 = 10_000;

/// The part of a file name that marks a temporary download file.
const TEMP_SUFFIX: &str = ".tallyfy-part";

pub(crate) trait Sink {
    /// Prepares for the body of a successful response. Called once.
    fn begin(&mut self, file_id: &str, meta: &ResponseMeta) -> Result<(), Error>;

    /// Returns the free part of a caller buffer that the body can be read
    /// into directly, for sinks that have one.
    fn direct_buffer(&mut self) -> Option<&mut [u8]> {
        None
    }

    /// Records that `count` bytes were read into the direct buffer.
    fn commit_direct(&mut self, _count: usize) {}

    /// Takes the next part of the body.
    fn write(&mut self, file_id: &str, data: &[u8]) -> Result<(), Error>;

    /// Drops everything written so far. Returns false when the sink cannot
    /// start over, as for a writer that has already passed bytes on.
    fn restart(&mut self, file_id: &str) -> Result<bool, Error>;

    /// Completes the download, returning the saved path for file sinks.
    fn finish(&mut self, file_id: &str, meta: &ResponseMeta) -> Result<Option<PathBuf>, Error>;

    /// Returns the name the file was saved under, for sinks that choose it
    /// from the server's name, after `finish`.
    fn saved_name(&self) -> Option<String> {
        None
    }
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> Error {
    Error::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Creates an empty temporary file next to where `final_name` will go.
fn create_temp_in(folder: &Path, final_name: &str) -> Result<NamedTempFile, Error> {
    // Keep the prefix short so that the temporary name fits in 255 bytes too.
    let mut prefix_end = final_name.len().min(64);
    while !final_name.is_char_boundary(prefix_end) {
        prefix_end -= 1;
    }
    let prefix = format!(".{}.", &final_name[..prefix_end]);

    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(TEMP_SUFFIX).rand_bytes(8);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Let the umask decide, as for any newly created file.
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    builder
        .tempfile_in(folder)
        .map_err(|source| io_error("creating a temporary file in", folder, source))
}

fn write_temp(temp: &mut Option<NamedTempFile>, data: &[u8]) -> Result<(), Error> {
    let file = temp.as_mut().expect("write before begin");
    file.as_file_mut()
        .write_all(data)
        .map_err(|source| io_error("writing to", file.path(), source))
}

fn restart_temp(temp: &mut Option<NamedTempFile>) -> Result<bool, Error> {
    if let Some(file) = temp.as_mut() {
        let path = file.path().to_path_buf();
        let handle = file.as_file_mut();
        handle
            .set_len(0)
            .map_err(|source| io_error("truncating", &path, source))?;
        io::Seek::rewind(handle).map_err(|source| io_error("rewinding", &path, source))?;
    }
    Ok(true)
}

/// Flushes the temporary file's data to stable storage before it is renamed.
fn sync_temp(temp: &NamedTempFile) -> Result<(), Error> {
    temp.as_file()
        .sync_all()
        .map_err(|source| io_error("syncing", temp.path(), source))
}

/// Makes a rename in `folder` durable. Best effort: some file systems refuse.
fn sync_folder(folder: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = File::open(folder) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = folder;
}

/// Returns the folder that contains `path`, or `.` for a bare file name.
fn parent_folder(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Saves to a given path through a temporary file in the same folder.
pub(crate) struct PathSink {
    path: PathBuf,
    folder: PathBuf,
    if_exists: IfExists,
    temp: Option<NamedTempFile>,
    sync: bool,
}

impl PathSink {
    pub(crate) fn new(path: &Path, if_exists: IfExists, sync: bool) -> Result<Self, Error> {
        // "out.bin/" names a folder, although Path::file_name returns "out.bin".
        let ends_with_separator = path.as_os_str().as_encoded_bytes().last() == Some(&b'/');
        if path.file_name().is_none() || ends_with_separator {
            return Err(Error::InvalidArgument(format!(
                "destination '{}' does not name a file",
                path.display()
            )));
        }

        if path.is_dir() {
            return Err(Error::InvalidArgument(format!(
                "destination '{}' is a folder; pass a file path or use the folder sink",
                path.display()
            )));
        }
        if if_exists == IfExists::Fail && fs::symlink_metadata(path).is_ok() {
            return Err(Error::DestinationExists {
                path: path.to_path_buf(),
            });
        }
        // Replacing renames a new regular file over the path. For a FIFO, a
        // socket or a device such as /dev/null (writable by root), or a
        // symlink to one, that would destroy the node instead of writing to it.
        if fs::metadata(path).is_ok_and(|meta| !meta.is_file()) {
            return Err(Error::InvalidArgument(format!(
                "destination '{}' is a device, FIFO or socket, not a regular file; \
                 open it and download to a writer or file descriptor instead",
                path.display()
            )));
        }

        let folder = parent_folder(path);
        if !folder.is_dir() {
            return Err(io_error(
                "opening the destination folder",
                &folder,
                io::Error::from(io::ErrorKind::NotFound),
            ));
        }

        Ok(PathSink {
            path: path.to_path_buf(),
            folder,
            if_exists,
            temp: None,
            sync,
        })
    }
}

impl Sink for PathSink {
    fn begin(&mut self, _file_id: &str, _meta: &ResponseMeta) -> Result<(), Error> {
        let name = self
            .path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        self.temp = Some(create_temp_in(&self.folder, &name)?);
        Ok(())
    }

    fn write(&mut self, _file_id: &str, data: &[u8]) -> Result<(), Error> {
        write_temp(&mut self.temp, data)
    }

    fn restart(&mut self, _file_id: &str) -> Result<bool, Error> {
        restart_temp(&mut self.temp)
    }

    fn finish(&mut self, _file_id: &str, _meta: &ResponseMeta) -> Result<Option<PathBuf>, Error> {
        let temp = self.temp.take().expect("finish before begin");
        if self.sync {
            sync_temp(&temp)?;
        }

        let result = match self.if_exists {
            IfExists::Replace => temp.persist(&self.path),
            IfExists::Fail => temp.persist_noclobber(&self.path),
        };
        match result {
            Ok(_) => {}
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists && self.if_exists == IfExists::Fail => {
                return Err(Error::DestinationExists {
                    path: self.path.clone(),
                });
            }
            Err(e) => return Err(io_error("renaming the download to", &self.path, e.error)),
        }
        if self.sync {
            sync_folder(&self.folder);
        }
        Ok(Some(self.path.clone()))
    }
}

/// Saves into a folder under the server's file name, never replacing a file.
pub(crate) struct FolderSink {
    folder: PathBuf,
    on_conflict: NameConflict,
    temp: Option<NamedTempFile>,
    /// The name taken from the first successful response. A retry keeps it,
    /// even when the server sends another name the second time.
    file_name: String,
    sync: bool,
}

impl FolderSink {
    pub(crate) fn new(folder: &Path, on_conflict: NameConflict, sync: bool) -> Result<Self, Error> {
        match fs::metadata(folder) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(Error::InvalidArgument(format!(
                    "destination folder '{}' is not a folder",
                    folder.display()
                )));
            }
            Err(source) => return Err(io_error("opening the destination folder", folder, source)),
        }
        Ok(FolderSink {
            folder: folder.to_path_buf(),
            on_conflict,
            temp: None,
            file_name: String::new(),
            sync,
        })
    }
}

impl Sink for FolderSink {
    fn begin(&mut self, _file_id: &str, meta: &ResponseMeta) -> Result<(), Error> {
        let target = self.folder.join(&meta.file_name);
        if self.on_conflict == NameConflict::Fail && fs::symlink_metadata(&target).is_ok() {
            return Err(Error::DestinationExists { path: target });
        }
        self.temp = Some(create_temp_in(&self.folder, &meta.file_name)?);
        self.file_name = meta.file_name.clone();
        Ok(())
    }

    fn write(&mut self, _file_id: &str, data: &[u8]) -> Result<(), Error> {
        write_temp(&mut self.temp, data)
    }

    fn restart(&mut self, _file_id: &str) -> Result<bool, Error> {
        restart_temp(&mut self.temp)
    }

    fn finish(&mut self, _file_id: &str, _meta: &ResponseMeta) -> Result<Option<PathBuf>, Error> {
        let mut temp = self.temp.take().expect("finish before begin");
        if self.sync {
            sync_temp(&temp)?;
        }

        let mut number = 0;
        loop {
            let name = match number {
                0 => self.file_name.clone(),
                n => numbered_file_name(&self.file_name, n),
            };
            let target = self.folder.join(&name);

            // persist_noclobber links the file under its final name only when
            // that name is free, so no existing file is replaced by accident.
            let result = match self.on_conflict {
                NameConflict::Replace => temp.persist(&target),
                NameConflict::Fail | NameConflict::Unique => temp.persist_noclobber(&target),
            };
            match result {
                Ok(_) => {
                    if self.sync {
                        sync_folder(&self.folder);
                    }
                    self.file_name = name;
                    return Ok(Some(target));
                }
                Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
                    if self.on_conflict == NameConflict::Fail || number >= MAX_UNIQUE_NAMES {
                        return Err(Error::DestinationExists { path: target });
                    }
                    temp = e.file;
                    number += 1;
                }
                Err(e) => return Err(io_error("saving the download as", &target, e.error)),
            }
        }
    }

    fn saved_name(&self) -> Option<String> {
        Some(self.file_name.clone())
    }
}

/// Passes the body on to a caller's writer.
pub(crate) struct WriterSink<'w> {
    writer: &'w mut dyn Write,
    written: u64,
}

impl<'w> WriterSink<'w> {
    pub(crate) fn new(writer: &'w mut dyn Write) -> Self {
        WriterSink { writer, written: 0 }
    }
}

impl Sink for WriterSink<'_> {
    fn begin(&mut self, _file_id: &str, _meta: &ResponseMeta) -> Result<(), Error> {
        Ok(())
    }

    fn write(&mut self, file_id: &str, data: &[u8]) -> Result<(), Error> {
        self.writer.write_all(data).map_err(|source| Error::Write {
            file_id: file_id.to_string(),
            source,
        })?;
        self.written += data.len() as u64;
        Ok(())
    }

    fn restart(&mut self, _file_id: &str) -> Result<bool, Error> {
        Ok(self.written == 0)
    }

    fn finish(&mut self, file_id: &str, _meta: &ResponseMeta) -> Result<Option<PathBuf>, Error> {
        self.writer.flush().map_err(|source| Error::Write {
            file_id: file_id.to_string(),
            source,
        })?;
        Ok(None)
    }
}

/// Reads the body straight into a caller's buffer.
pub(crate) struct SliceSink<'b> {
    buffer: &'b mut [u8],
    filled: usize,
}

impl<'b> SliceSink<'b> {
    pub(crate) fn new(buffer: &'b mut [u8]) -> Self {
        SliceSink { buffer, filled: 0 }
    }
}

impl Sink for SliceSink<'_> {
    fn begin(&mut self, file_id: &str, meta: &ResponseMeta) -> Result<(), Error> {
        match meta.content_length {
            Some(length) if length > self.buffer.len() as u64 => Err(Error::BufferTooSmall {
                file_id: file_id.to_string(),
                capacity: self.buffer.len() as u64,
                needed: Some(length),
            }),
            _ => Ok(()),
        }
    }

    fn direct_buffer(&mut self) -> Option<&mut [u8]> {
        Some(&mut self.buffer[self.filled..])
    }

    fn commit_direct(&mut self, count: usize) {
        self.filled += count;
    }

    fn write(&mut self, file_id: &str, data: &[u8]) -> Result<(), Error> {
        // The engine reads into direct_buffer(); this path only serves callers
        // that hand over bytes they already hold.
        let end = self.filled + data.len();
        if end > self.buffer.len() {
            return Err(Error::BufferTooSmall {
                file_id: file_id.to_string(),
                capacity: self.buffer.len() as u64,
                needed: None,
            });
        }
        self.buffer[self.filled..end].copy_from_slice(data);
        self.filled = end;
        Ok(())
    }

    fn restart(&mut self, _file_id: &str) -> Result<bool, Error> {
        self.filled = 0;
        Ok(true)
    }

    fn finish(&mut self, _file_id: &str, _meta: &ResponseMeta) -> Result<Option<PathBuf>, Error> {
        Ok(None)
    }
}

/// Collects the body in memory.
#[derive(Default)]
pub(crate) struct VecSink {
    data: Vec<u8>,
}

/// The maximum memory reserved up front from a declared `Content-Length`, in bytes.
const MAX_VEC_RESERVE: u64 = 64 * 1024 * 1024;

impl VecSink {
    pub(crate) fn into_inner(self) -> Vec<u8> {
        self.data
    }
}

impl Sink for VecSink {
    fn begin(&mut self, _file_id: &str, meta: &ResponseMeta) -> Result<(), Error> {
        if let Some(length) = meta.content_length {
            self.data.reserve(length.min(MAX_VEC_RESERVE) as usize);
        }
        Ok(())
    }

    fn write(&mut self, _file_id: &str, data: &[u8]) -> Result<(), Error> {
        self.data.extend_from_slice(data);
        Ok(())
    }

    fn restart(&mut self, _file_id: &str) -> Result<bool, Error> {
        self.data.clear();
        Ok(true)
    }

    fn finish(&mut self, _file_id: &str, _meta: &ResponseMeta) -> Result<Option<PathBuf>, Error> {
        Ok(None)
    }
}
