//! Runs one download into any of the library's sinks and reports what the
//! destination holds afterwards, so one test body can cover every sink.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tallyfy_files::{Client, Error, FileInfo, IfExists, NameConflict};

/// A destination kind of the Rust API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Path,
    Folder,
    Slice,
    Vec,
    Writer,
}

impl Target {
    pub const ALL: [Target; 5] = [
        Target::Path,
        Target::Folder,
        Target::Slice,
        Target::Vec,
        Target::Writer,
    ];

    /// The sinks that can drop what they hold and start the body again.
    pub const RESTARTABLE: [Target; 4] = [Target::Path, Target::Folder, Target::Slice, Target::Vec];
}

/// What one download did.
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<FileInfo, Error>,
    /// The bytes the destination holds afterwards: the file's contents, the
    /// filled part of the buffer, the `Vec` or what the writer took.
    pub delivered: Vec<u8>,
    /// Every `received` value the progress callback saw, in order.
    pub progress: Vec<u64>,
    /// Where the file sinks saved, or would have saved, the file.
    pub path: Option<PathBuf>,
}

/// Downloads `file_id` into a fresh destination of kind `target` inside
/// `workdir`. The slice sink gets a buffer of `slice_capacity` bytes.
pub fn download_into(
    target: Target,
    client: &Client,
    file_id: &str,
    workdir: &Path,
    slice_capacity: usize,
) -> Outcome {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let download = client.download(file_id).progress(move |received, _total| {
        record.lock().unwrap().push(received);
        ControlFlow::Continue(())
    });

    let (result, delivered, path) = match target {
        Target::Path => {
            let path = workdir.join("saved.bin");
            let result = download.to_path(&path, IfExists::Replace);
            let delivered = std::fs::read(&path).unwrap_or_default();
            (result, delivered, Some(path))
        }
        Target::Folder => {
            let result = download.to_folder(workdir, NameConflict::Replace);
            let path = result.as_ref().ok().and_then(|info| info.path.clone());
            let delivered = path
                .as_ref()
                .map(|path| std::fs::read(path).unwrap_or_default())
                .unwrap_or_default();
            (result, delivered, path)
        }
        Target::Slice => {
            let mut buffer = vec![0u8; slice_capacity];
            let result = download.to_slice(&mut buffer);
            let size = result.as_ref().map(|info| info.size as usize).unwrap_or(0);
            (result, buffer[..size].to_vec(), None)
        }
        Target::Vec => match download.to_vec(u64::MAX) {
            Ok((data, info)) => (Ok(info), data, None),
            Err(err) => (Err(err), Vec::new(), None),
        },
        Target::Writer => {
            let mut taken = Vec::new();
            let result = download.to_writer(&mut taken);
            (result, taken, None)
        }
    };

    let progress = seen.lock().unwrap().clone();
    Outcome {
        result,
        delivered,
        progress,
        path,
    }
}

/// Returns true when the progress values went back to 0 after passing it,
/// which is how the callback learns that the body started again.
pub fn progress_restarted(progress: &[u64]) -> bool {
    let mut passed_zero = false;
    for &received in progress {
        if received > 0 {
            passed_zero = true;
        } else if passed_zero {
            return true;
        }
    }
    false
}
