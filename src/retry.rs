//! When a failed download is tried again, and how long to wait first.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

/// Limits on retrying a failed download.
///
/// A download is retried only for transient failures (see
/// [`crate::Error::is_transient`]): 429, 502, 503 and 504 statuses, timeouts,
/// failed or reset connections and truncated bodies. A 429 waits for the time
/// its `Retry-After` header gives. The others back off exponentially with
/// ±20 % jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The maximum number of attempts, the first included. 1 turns retries off. Default 4.
    pub max_attempts: u32,
    /// The wait before the first retry, doubled for each later one. Default 0.5 s.
    pub initial_backoff: Duration,
    /// The maximum back-off between two attempts. Default 8 s.
    pub max_backoff: Duration,
    /// The maximum single wait, `Retry-After` included. A server that requests
    /// a longer wait makes the download fail at once. Default 30 s.
    pub max_wait: Duration,
    /// The maximum total time spent waiting between attempts. Default 60 s.
    pub max_total_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_wait: Duration::from_secs(30),
            max_total_wait: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Returns a policy that never retries.
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Returns the back-off before retry number `retry` (1 for the first), jitter included.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff);

        // Spread retries of many clients over ±20 % of the base wait.
        let unit = (random_u64() % 10_001) as f64 / 10_000.0;
        let factor = 0.8 + 0.4 * unit;
        // mul_f64 panics when the product passes Duration::MAX.
        Duration::try_from_secs_f64(base.as_secs_f64() * factor).unwrap_or(Duration::MAX)
    }
}

/// Parses a `Retry-After` value: a number of seconds or an HTTP date.
///
/// A date in the past gives a zero wait. Returns `None` for anything else.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// Returns a random number from the standard library's per-process hash keys.
fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = SystemTime::now() + Duration::from_secs(120);
        let wait = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-3"), None);
    }

    #[test]
    fn backoff_doubles_within_jitter() {
        let policy = RetryPolicy::default();
        for (retry, base_ms) in [(1u32, 500.0), (2, 1000.0), (3, 2000.0), (5, 8000.0), (40, 8000.0)] {
            let wait = policy.backoff(retry).as_secs_f64() * 1000.0;
            assert!(wait >= base_ms * 0.8 - 1.0, "retry {retry}: {wait} ms");
            assert!(wait <= base_ms * 1.2 + 1.0, "retry {retry}: {wait} ms");
        }
    }
}
