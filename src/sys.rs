//! Process limits: raise the open-files limit at start-up (the original's `run -u`, HIVE.md 2.12).
//!
//! Every session holds a socket, so the default soft limit (often 1024) caps the server long
//! before `hive.max_client_slots`. Uses the `rlimit` crate: the crate forbids `unsafe_code`, and
//! calling `libc::setrlimit` directly needs `unsafe`.

/// Raise the soft `RLIMIT_NOFILE` to the hard limit; returns `(old soft, new soft)`.
///
/// # Errors
/// The OS error text when the limit cannot be read or set.
pub fn raise_nofile_limit() -> Result<(u64, u64), String> {
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)
        .map_err(|e| format!("getrlimit(NOFILE): {e}"))?;
    if soft >= hard {
        return Ok((soft, soft));
    }
    // `increase_nofile_limit` also handles macOS, where the hard limit may exceed OPEN_MAX.
    let new = rlimit::increase_nofile_limit(hard)
        .map_err(|e| format!("setrlimit(NOFILE, {hard}): {e}"))?;
    Ok((soft, new))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn raises_soft_limit_to_hard() {
        let (old, new) = raise_nofile_limit().unwrap();
        assert!(new >= old);
        let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        assert_eq!(soft, new);
        assert!(soft <= hard);
        #[cfg(target_os = "linux")]
        assert_eq!(soft, hard);
    }
}
