//! Small tmpfs mounts for full-disk and read-only-folder tests.
//!
//! Tests run as root, where file permissions do not stop writes, so a
//! read-only folder has to be a read-only mount. Mounting needs
//! `CAP_SYS_ADMIN`; where it is refused, the caller skips the case and prints
//! why.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A tmpfs mounted on a fresh temporary folder, unmounted on drop.
pub struct Tmpfs {
    target: PathBuf,
    // Dropped after the unmount, which removes the now-empty mount point.
    _holder: tempfile::TempDir,
}

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("temporary paths contain no NUL")
}

impl Tmpfs {
    /// Mounts a tmpfs of `size_bytes` (rounded up to pages by the kernel).
    ///
    /// # Errors
    ///
    /// Returns the operating system's error when the mount is not permitted.
    pub fn mount(size_bytes: u64) -> io::Result<Tmpfs> {
        let holder = tempfile::tempdir()?;
        let target = holder.path().join("mnt");
        std::fs::create_dir(&target)?;

        let source = CString::new("tmpfs").unwrap();
        let options = CString::new(format!("size={size_bytes},mode=0755")).unwrap();
        let target_c = c_path(&target);
        // SAFETY: every pointer is a NUL-terminated string that outlives the call.
        let rc = unsafe {
            libc::mount(
                source.as_ptr(),
                target_c.as_ptr(),
                source.as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                options.as_ptr() as *const libc::c_void,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Tmpfs {
            target,
            _holder: holder,
        })
    }

    pub fn path(&self) -> &Path {
        &self.target
    }

    /// Makes the mount read-only from now on.
    pub fn make_read_only(&self) -> io::Result<()> {
        let target_c = c_path(&self.target);
        // SAFETY: remounting an existing mount point given as a NUL-terminated string.
        let rc = unsafe {
            libc::mount(
                std::ptr::null(),
                target_c.as_ptr(),
                std::ptr::null(),
                libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let target_c = c_path(&self.target);
        // SAFETY: detaching a mount point given as a NUL-terminated string.
        unsafe {
            libc::umount2(target_c.as_ptr(), libc::MNT_DETACH);
        }
    }
}
