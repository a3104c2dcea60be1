//! The close signal and the blocking wait on it (race R7 in `docs/races.md`;
//! the wait itself is `?wait=true` in `docs/agent-api.md#processes`).
//!
//! `close()` is the only wake-up: writes never notify anyone (a notification
//! per write would cost a syscall-class operation on the hottest path, and
//! `wait=true` means "wait for exit", not "wait for output").
//!
//! A waiter registers with the [`Notify`] *before* it checks the flag. Tokio
//! guarantees that a `Notified` future receives every `notify_waiters()` call
//! made after it was created, even before it is first polled, so a close that
//! lands between the check and the await still wakes it. The known-bug switch
//! `lost-wakeup` ([`crate::Bug::LostWakeup`]) brings R7 back by registering
//! only after the check: a close in between is then lost and the waiter
//! sleeps until its timeout.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// The `closed` flag plus the waiters to wake when it is set.
#[derive(Debug, Default)]
pub(super) struct CloseSignal {
    closed: AtomicBool,
    notify: Notify,
}

impl CloseSignal {
    /// Sets the flag and wakes every registered waiter.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Clears the flag (a reset buffer is open again); wakes no one.
    pub(super) fn reopen(&self) {
        self.closed.store(false, Ordering::SeqCst);
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Resolves once the flag is set; see the module docs for `lost_wakeup`.
    pub(super) async fn wait(&self, lost_wakeup: bool) {
        self.wait_hooked(lost_wakeup, || {}).await;
    }

    /// [`wait`](Self::wait) with a hook run between the check and the await,
    /// where the yield point is, so a test can close the signal exactly there.
    async fn wait_hooked(&self, lost_wakeup: bool, between_check_and_await: impl FnOnce()) {
        // Registered from here on: no close after this line can be missed.
        let mut notified = self.notify.notified();
        if self.is_closed() {
            return;
        }
        crate::yield_point!("headtail.wait.between_check_and_await");
        between_check_and_await();
        if lost_wakeup {
            // R7: drop the registration made before the check and register
            // only now, after it, as the original's unlocked broadcast did.
            crate::bugs::taken(crate::Bug::LostWakeup);
            notified = self.notify.notified();
        }
        notified.await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// How long a test waiter may sleep before we call it lost (paused clock:
    /// costs no real time).
    const PATIENCE: Duration = Duration::from_secs(3600);

    /// Runs a waiter that sees the signal open, then has it closed between
    /// its check and its await; returns whether it woke.
    async fn close_between_check_and_await(lost_wakeup: bool) -> bool {
        let signal = CloseSignal::default();
        let woke =
            tokio::time::timeout(PATIENCE, signal.wait_hooked(lost_wakeup, || signal.close()))
                .await
                .is_ok();
        assert!(signal.is_closed());
        woke
    }

    #[tokio::test(start_paused = true)]
    async fn a_close_between_check_and_await_wakes_the_waiter() {
        assert!(close_between_check_and_await(false).await);
    }

    #[tokio::test(start_paused = true)]
    async fn with_lost_wakeup_a_close_between_check_and_await_is_lost() {
        cov_mark::check!(lost_wakeup);
        assert!(!close_between_check_and_await(true).await);
    }

    #[tokio::test(start_paused = true)]
    async fn with_lost_wakeup_a_close_before_the_check_still_returns() {
        let signal = CloseSignal::default();
        signal.close();
        tokio::time::timeout(PATIENCE, signal.wait(true))
            .await
            .expect("already closed");
    }
}
