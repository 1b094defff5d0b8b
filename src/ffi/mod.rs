//! The C API: `extern "C"` functions over the Rust core, with the header
//! `include/tallyfy_files.h` generated from these modules by cbindgen.
//!
//! One concept a module. `boundary` is the only place that catches panics
//! and turns raw pointers and C strings into Rust references; every export
//! runs its body through it. The conventions every function follows (inputs
//! first, outputs last, outputs written only on success, `_new` paired with
//! `_free`) are written once at the top of the header, in `cbindgen.toml`.
//!
//! cbindgen writes the header's sections in the order of the `mod` lines
//! below, so each is a group of its own, which rustfmt does not sort.

// The exported types carry their C names, such as `tallyfy_client`, because
// cbindgen copies Rust names into the header.
#![allow(non_camel_case_types)]

// The panic boundary and the pointer and string checks.
mod boundary;

// Status codes and their static strings.
mod status;

// The thread-local detail of the last failure.
mod last_error;

// The library's version.
mod version;

// Client options and the shared client.
mod client;

// Per-download options, the progress callback among them.
mod download_options;

// File information returned by finished downloads.
mod info;

// Bytes the library allocates for the caller.
mod data;

// The download functions, one a destination.
mod download;

// Log records passed to a C callback.
mod log;
