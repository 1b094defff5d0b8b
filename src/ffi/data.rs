//! Bytes that the library allocates for the caller, and their free function.
//!
//! Rust needs an allocation's size to free it, but C callers should only
//! have to pass the pointer back. The library therefore remembers the length
//! of every block it hands out, keyed by address. That also makes
//! `tallyfy_data_free` ignore a pointer that did not come from the library,
//! instead of corrupting the heap.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use super::boundary::guard;

/// The lengths of the blocks handed out and not yet freed, by address.
///
/// A `BTreeMap` rather than a `HashMap`, because a hash table's pointer aims
/// into the middle of its allocation, which valgrind reports at exit as
/// possibly lost. A tree's pointers aim at the start of its nodes.
static BLOCKS: Mutex<BTreeMap<usize, usize>> = Mutex::new(BTreeMap::new());

/// The pointer returned for an empty body: valid and non-NULL, pointing to
/// nothing, and ignored by `tallyfy_data_free`.
static EMPTY: [u8; 1] = [0];

/// Hands `bytes` over to C, returning the pointer and the length.
pub(crate) fn into_raw(bytes: Vec<u8>) -> (*mut u8, usize) {
    if bytes.is_empty() {
        return (EMPTY.as_ptr().cast_mut(), 0);
    }

    let length = bytes.len();
    let pointer = Box::into_raw(bytes.into_boxed_slice()).cast::<u8>();
    BLOCKS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(pointer as usize, length);
    (pointer, length)
}

/// Frees bytes returned by `tallyfy_download_to_memory`. NULL is a no-op.
///
/// A pointer that is not a live block from the library is ignored instead of
/// being passed to the allocator. Freeing a block twice is still a bug,
/// because its address may have been handed out again in between.
///
/// Thread-safety: may be called from any thread.
#[no_mangle]
pub extern "C" fn tallyfy_data_free(data: *mut u8) {
    guard((), || {
        if data.is_null() {
            return;
        }

        let length = BLOCKS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(data as usize));
        if let Some(length) = length {
            let block = std::ptr::slice_from_raw_parts_mut(data, length);
            // SAFETY: the address and length were recorded by into_raw for a
            // boxed slice, and removing the record makes this the only free.
            drop(unsafe { Box::from_raw(block) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_round_trips_and_unknown_pointer_is_ignored() {
        let (pointer, length) = into_raw(b"hello".to_vec());
        assert_eq!(length, 5);
        assert_eq!(unsafe { std::slice::from_raw_parts(pointer, length) }, b"hello");
        tallyfy_data_free(pointer);

        let mut local = [1u8; 4];
        tallyfy_data_free(local.as_mut_ptr());
        assert_eq!(local, [1u8; 4]);
    }

    #[test]
    fn empty_data_is_not_null() {
        let (pointer, length) = into_raw(Vec::new());
        assert!(!pointer.is_null());
        assert_eq!(length, 0);
        tallyfy_data_free(pointer);
    }
}
