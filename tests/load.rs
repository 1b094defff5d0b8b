//! Load: 1,000 downloads across 16 threads through one client, checking
//! that none fails, no file descriptor leaks and memory stays flat.
//!
//! This file holds a single test so that no other test opens or closes file
//! descriptors while it counts them. It checks for leaks, not for speed.

mod support;

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::{pattern, response, RawServer};
use tallyfy_files::{Client, IfExists, NameConflict};

const THREADS: usize = 16;
const ROUNDS: usize = 4;
const DOWNLOADS_PER_ROUND: usize = 250;

/// How much the resident set may grow from the end of the first round to
/// the end of the last. A leak of one body per download (about 90 KiB on
/// average here) would add about 65 MiB over the last 750 downloads.
const MAX_RSS_GROWTH_KIB: u64 = 48 * 1024;

/// Body sizes served in turn, from tiny to a few copy buffers' worth.
const SIZES: [usize; 6] = [0, 1, 1500, 64 * 1024, 200 * 1024, 300 * 1024];

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("reading /proc/self/fd")
        .count()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// A keep-alive server that answers request `n` with body `n % SIZES.len()`.
fn start_server(bodies: Vec<Vec<u8>>) -> RawServer {
    RawServer::start(move |mut conn| loop {
        let body = &bodies[file_number(&conn.request().path) % bodies.len()];
        let headers = [
            ("Content-Type", "application/octet-stream".to_string()),
            (
                "Content-Disposition",
                "attachment; filename=\"load.bin\"".to_string(),
            ),
            ("Connection", "keep-alive".to_string()),
        ];
        if !conn.send(&response("200 OK", &headers, body)) || !conn.next_request() {
            break;
        }
    })
}

/// Reads the number out of a file ID such as `load123` in the request path.
fn file_number(path: &str) -> usize {
    path.split('/')
        .find_map(|segment| segment.strip_prefix("load"))
        .and_then(|number| number.parse().ok())
        .unwrap_or(0)
}

/// Runs download `number` through one of five sinks and returns the bytes it delivered.
fn download(client: &Client, number: usize, workdir: &Path) -> Result<Vec<u8>, String> {
    let file_id = format!("load{number}");
    let download = client.download(&file_id);
    let fail = |err: tallyfy_files::Error| format!("download {number}: {err}");

    match number % 5 {
        0 => download.to_vec(1 << 20).map(|(data, _)| data).map_err(fail),
        1 => {
            let path = workdir.join(format!("path-{number}.bin"));
            download.to_path(&path, IfExists::Fail).map_err(fail)?;
            let data = std::fs::read(&path).map_err(|err| err.to_string())?;
            std::fs::remove_file(&path).map_err(|err| err.to_string())?;
            Ok(data)
        }
        2 => {
            let folder = workdir.join(format!("folder-{number}"));
            std::fs::create_dir(&folder).map_err(|err| err.to_string())?;
            let info = download.to_folder(&folder, NameConflict::Fail).map_err(fail)?;
            let data = std::fs::read(info.path.unwrap()).map_err(|err| err.to_string())?;
            std::fs::remove_dir_all(&folder).map_err(|err| err.to_string())?;
            Ok(data)
        }
        3 => {
            let mut buffer = vec![0u8; 400 * 1024];
            let info = download.to_slice(&mut buffer).map_err(fail)?;
            buffer.truncate(info.size as usize);
            Ok(buffer)
        }
        _ => {
            let mut taken = Vec::new();
            download.to_writer(&mut taken).map_err(fail)?;
            taken.flush().unwrap();
            Ok(taken)
        }
    }
}

/// Runs `count` downloads numbered from `first` across `THREADS` threads.
fn run_round(client: &Client, bodies: &[Vec<u8>], first: usize, count: usize, workdir: &Path) -> Vec<String> {
    let next = AtomicUsize::new(first);
    let end = first + count;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    let mut failures = Vec::new();
                    loop {
                        let number = next.fetch_add(1, Ordering::SeqCst);
                        if number >= end {
                            break;
                        }
                        match download(client, number, workdir) {
                            Ok(data) if data == bodies[number % bodies.len()] => {}
                            Ok(data) => failures.push(format!(
                                "download {number}: {} bytes that differ from the {} served",
                                data.len(),
                                bodies[number % bodies.len()].len()
                            )),
                            Err(message) => failures.push(message),
                        }
                    }
                    failures
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap())
            .collect()
    })
}

#[test]
fn thousand_downloads_sixteen_threads() {
    let bodies: Vec<Vec<u8>> = SIZES
        .iter()
        .enumerate()
        .map(|(n, &size)| pattern(size, n as u64))
        .collect();
    let workdir = tempfile::tempdir().unwrap();

    // Warm up once so that one-time set-up (thread-local state, lazily
    // opened descriptors) is not counted as a leak.
    {
        let server = start_server(bodies.clone());
        let client = support::client(&server.base_url(), support::fast_retries(1));
        let failures = run_round(&client, &bodies, 0, 2 * THREADS, workdir.path());
        assert!(failures.is_empty(), "warm-up failed: {failures:?}");
    }
    let fds_before = open_fds();

    let server = start_server(bodies.clone());
    let client = support::client(&server.base_url(), support::fast_retries(1));
    let mut rss = Vec::new();
    let mut failures = Vec::new();
    for round in 0..ROUNDS {
        let first = round * DOWNLOADS_PER_ROUND;
        failures.extend(run_round(
            &client,
            &bodies,
            first,
            DOWNLOADS_PER_ROUND,
            workdir.path(),
        ));
        rss.push(rss_kib());
    }
    let requests = server.request_count();
    let connections = server.connection_count();

    // Pooled connections hold descriptors until the client goes, and the
    // server's until it stops.
    drop(client);
    drop(server);
    let fds_after = open_fds();

    println!(
        "load: {} downloads on {THREADS} threads over {connections} connections; VmRSS after each round (KiB): {rss:?}; fds before {fds_before}, after {fds_after}",
        ROUNDS * DOWNLOADS_PER_ROUND
    );
    assert!(
        failures.is_empty(),
        "{} downloads failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        requests,
        ROUNDS * DOWNLOADS_PER_ROUND,
        "one request per download, none retried"
    );
    assert_eq!(fds_after, fds_before, "file descriptors leaked");
    assert!(
        folder_is_empty(workdir.path()),
        "files were left behind: {:?}",
        support::folder_entries(workdir.path())
    );
    let growth = rss[ROUNDS - 1].saturating_sub(rss[0]);
    assert!(
        growth <= MAX_RSS_GROWTH_KIB,
        "resident memory grew by {growth} KiB over {} downloads after the first round (limit {MAX_RSS_GROWTH_KIB} KiB): a leak? readings {rss:?}",
        (ROUNDS - 1) * DOWNLOADS_PER_ROUND
    );
}

fn folder_is_empty(folder: &Path) -> bool {
    support::folder_entries(folder).is_empty()
}
