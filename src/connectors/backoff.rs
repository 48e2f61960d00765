//! Retry with random back-off for rent operations (`connectors.backoff_num`, `backoff_time`, HIVE.md 7.1).
//!
//! The original crashed with `backoff_time = 0` and corrupted the bound from the third attempt
//! (HIVE.md 16.6 #1); here the sleep is uniform in `[0, backoff_time]` ms and attempts are counted
//! correctly.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use crate::error::HiveError;

/// Back-off settings of the connectors section.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    /// Attempts in total (at least 1).
    pub(crate) num: u32,
    /// Upper bound of the sleep between attempts (ms).
    pub(crate) time_ms: u64,
}

impl Backoff {
    /// Run `op` up to `num` times, sleeping a random `[0, time_ms]` ms between failed attempts.
    pub(crate) async fn run<T, F, Fut>(&self, mut op: F) -> Result<T, HiveError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, HiveError>>,
    {
        let attempts = self.num.max(1);
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if attempt >= attempts => return Err(e),
                Err(_) => {
                    attempt += 1;
                    if self.time_ms > 0 {
                        let ms = rand::rng().random_range(0..=self.time_ms);
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn retries_up_to_num_attempts() {
        let calls = AtomicU32::new(0);
        let b = Backoff { num: 3, time_ms: 0 };
        let r: Result<(), HiveError> = b
            .run(|| async {
                calls.fetch_add(1, Ordering::Relaxed);
                Err(HiveError::ConnectorError("x".into()))
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn stops_at_first_success() {
        let calls = AtomicU32::new(0);
        let b = Backoff { num: 5, time_ms: 2 };
        let r = b
            .run(|| async {
                let n = calls.fetch_add(1, Ordering::Relaxed);
                if n < 1 {
                    Err(HiveError::ConnectorError("x".into()))
                } else {
                    Ok(n)
                }
            })
            .await;
        assert_eq!(r, Ok(1));
        assert_eq!(calls.load(Ordering::Relaxed), 2);
    }
}
