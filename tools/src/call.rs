//! Go-context semantics for SDK calls: a call bounded by a deadline fails
//! with `context deadline exceeded` once the deadline passes, and fails at
//! once if it already has (Go's HTTP client checks the context before
//! dialing; tokio's `timeout` would poll the call first).
//!
//! Timers are `tokio::time`, so under simulation they run on the sim clock.

use std::future::Future;

use agent_sdk::SdkError;
use tokio::time::Instant;

/// Go's `context.DeadlineExceeded` text.
pub const DEADLINE_EXCEEDED: &str = "context deadline exceeded";

/// Why an SDK call made by a tool failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The SDK answered with an error (status, transport, decode).
    #[error(transparent)]
    Sdk(#[from] SdkError),
    /// The call's context deadline passed first.
    #[error("{DEADLINE_EXCEEDED}")]
    DeadlineExceeded,
}

/// Runs `call` with a context that expires at `deadline`.
pub async fn until<T>(
    deadline: Instant,
    call: impl Future<Output = Result<T, SdkError>>,
) -> Result<T, CallError> {
    if Instant::now() >= deadline {
        return Err(CallError::DeadlineExceeded);
    }
    match tokio::time::timeout_at(deadline, call).await {
        Ok(result) => result.map_err(CallError::Sdk),
        Err(_elapsed) => Err(CallError::DeadlineExceeded),
    }
}

/// The deadline `timeout` from now; zero or negative timeouts give an
/// already expired deadline, like `context.WithTimeout` in Go.
pub fn deadline_after(timeout: crate::GoDuration) -> Instant {
    let now = Instant::now();
    match timeout.to_std() {
        Some(d) => now.checked_add(d).unwrap_or_else(far_future),
        None => now,
    }
}

/// A deadline that never comes in practice (~30 years), for overflow.
fn far_future() -> Instant {
    Instant::now() + std::time::Duration::from_secs(86_400 * 365 * 30)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn ok_now() -> Result<u8, SdkError> {
        Ok(7)
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_deadline_fails_before_calling() {
        let deadline = Instant::now();
        assert_eq!(
            until(deadline, ok_now()).await,
            Err(CallError::DeadlineExceeded)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_finishing_in_time_returns_its_answer() {
        let deadline = Instant::now() + Duration::from_millis(50);
        assert_eq!(until(deadline, ok_now()).await, Ok(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_outliving_its_deadline_is_cut_at_the_deadline() {
        let start = Instant::now();
        let deadline = start + Duration::from_millis(50);
        let slow = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<u8, SdkError>(1)
        };
        assert_eq!(
            until(deadline, slow).await,
            Err(CallError::DeadlineExceeded)
        );
        assert_eq!(start.elapsed(), Duration::from_millis(50));
        assert_eq!(CallError::DeadlineExceeded.to_string(), DEADLINE_EXCEEDED);
    }

    #[tokio::test(start_paused = true)]
    async fn non_positive_timeouts_are_already_expired() {
        let now = Instant::now();
        assert_eq!(deadline_after(crate::GoDuration(0)), now);
        assert_eq!(deadline_after(crate::GoDuration(-1)), now);
        assert_eq!(
            deadline_after(crate::GoDuration(1_000_000)),
            now + Duration::from_millis(1)
        );
    }
}
