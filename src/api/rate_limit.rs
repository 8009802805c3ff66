//! Per-learner submission rate limit: a token bucket per learner, in this process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub struct RateLimiter {
    per_minute: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1) as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `learner`; `Err(seconds)` says when the next one is available.
    pub fn take(&self, learner: &str) -> Result<(), u64> {
        let now = Instant::now();
        let refill_per_second = self.per_minute / 60.0;
        let mut buckets = self.buckets.lock().expect("rate limiter");
        if buckets.len() > 100_000 {
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs() < 120);
        }
        let (tokens, at) = buckets
            .entry(learner.to_string())
            .or_insert((self.per_minute, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * refill_per_second)
            .min(self.per_minute);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / refill_per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimiter;

    #[test]
    fn bucket_empties_then_says_when_to_retry() {
        let limiter = RateLimiter::new(2);
        assert!(limiter.take("a").is_ok());
        assert!(limiter.take("a").is_ok());
        let retry = limiter.take("a").unwrap_err();
        assert!((1..=30).contains(&retry), "{retry}");
        assert!(limiter.take("b").is_ok(), "buckets are per learner");
    }
}
