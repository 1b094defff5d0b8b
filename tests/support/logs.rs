//! A `log` backend that keeps every message, so tests can check what the
//! library logged about one download.

use std::sync::{Mutex, OnceLock};

struct Capture {
    lines: Mutex<Vec<String>>,
}

impl log::Log for Capture {
    fn enabled(&self, _metadata: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}", record.level(), record.args());
        self.lines.lock().unwrap().push(line);
    }

    fn flush(&self) {}
}

static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();

fn capture() -> &'static Capture {
    CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::new(Capture {
            lines: Mutex::new(Vec::new()),
        }));
        log::set_logger(capture).expect("no other logger is installed in this test binary");
        log::set_max_level(log::LevelFilter::Trace);
        capture
    })
}

/// Installs the capturing logger for this test binary. Safe to call many times.
pub fn install() {
    capture();
}

/// Returns every captured line that mentions `download {file_id}:`.
///
/// Tests give each download its own file ID, so that tests running in
/// parallel do not see each other's lines.
pub fn for_file(file_id: &str) -> Vec<String> {
    let marker = format!("download {file_id}:");
    capture()
        .lines
        .lock()
        .unwrap()
        .iter()
        .filter(|line| line.contains(&marker))
        .cloned()
        .collect()
}

/// Returns every captured line.
pub fn all() -> Vec<String> {
    capture().lines.lock().unwrap().clone()
}
