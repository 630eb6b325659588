//! The error type of the safe wrappers: a DPDK call, and the errno it reported.

use crate::raw;
use std::ffi::CStr;

/// A failed DPDK call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A DPDK function returned an error code (negative errno or `rte_errno`).
    #[error("{call} failed: {message} (errno {errno})")]
    Call {
        call: &'static str,
        errno: i32,
        message: String,
    },
    /// The arguments were refused before reaching DPDK.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// Build an error for `call` from a (positive or negative) errno value.
    pub fn from_errno(call: &'static str, errno: i32) -> Error {
        let errno = errno.abs();
        // SAFETY: rte_strerror returns a pointer to a static or thread-local NUL-terminated
        // string, valid at least until the next call on this thread; we copy it at once.
        let message = unsafe { CStr::from_ptr(raw::rte_strerror(errno)) }
            .to_string_lossy()
            .into_owned();
        Error::Call {
            call,
            errno,
            message,
        }
    }

    /// Build an error for `call` from the current thread's `rte_errno`.
    pub fn from_rte_errno(call: &'static str) -> Error {
        // SAFETY: reads a thread-local int through the C helper; no preconditions.
        let errno = unsafe { raw::skylane_rte_errno() };
        Error::from_errno(call, errno)
    }

    /// `Ok(ret)` when `ret >= 0`, else the negative return value as errno.
    pub fn check(call: &'static str, ret: i32) -> Result<i32> {
        if ret < 0 {
            Err(Error::from_errno(call, ret))
        } else {
            Ok(ret)
        }
    }
}

/// Result of the safe wrappers.
pub type Result<T> = std::result::Result<T, Error>;
