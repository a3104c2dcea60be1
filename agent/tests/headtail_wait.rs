//! Waiting for a buffer to close (race R7 in `docs/races.md`), on tokio's
//! paused clock: a waiter that arrives before, during or after `close` wakes; a
//! bounded wait gives up at its timeout; writes wake no one. The "during" case
//! (close between the waiter's check and its await) is the unit test in
//! `agent/src/headtail/wait.rs`, which can stop the waiter exactly there.

use std::sync::Arc;
use std::time::Duration;

use agent::headtail::HeadTailBuffer;

const LONG: Duration = Duration::from_secs(3600);

/// Starts `waiters` tasks waiting on `buf` (with or without the lost-wakeup
/// switch), lets them park, runs `act`, and returns how many woke within
/// `LONG`.
async fn woken(
    buf: &Arc<HeadTailBuffer>,
    waiters: usize,
    lost_wakeup: bool,
    act: impl FnOnce(),
) -> usize {
    let tasks: Vec<_> = (0..waiters)
        .map(|_| {
            let buf = Arc::clone(buf);
            tokio::spawn(async move {
                tokio::time::timeout(LONG, buf.wait_closed_with(lost_wakeup))
                    .await
                    .is_ok()
            })
        })
        .collect();
    // Let every waiter reach its await.
    tokio::time::sleep(Duration::from_millis(1)).await;
    act();
    let mut n = 0;
    for t in tasks {
        n += usize::from(t.await.expect("waiter task"));
    }
    n
}

#[tokio::test(start_paused = true)]
async fn every_waiter_registered_before_close_wakes() {
    let buf = Arc::new(HeadTailBuffer::new());
    assert_eq!(woken(&buf, 5, false, || buf.close()).await, 5);
    // Parked waiters have registered, so even the buggy path wakes: R7 is
    // only about a close inside the check/await window.
    let buf = Arc::new(HeadTailBuffer::new());
    assert_eq!(woken(&buf, 5, true, || buf.close()).await, 5);
}

#[tokio::test(start_paused = true)]
async fn a_waiter_arriving_after_close_returns_at_once() {
    let buf = HeadTailBuffer::new();
    buf.close();
    let start = tokio::time::Instant::now();
    buf.wait_closed().await;
    assert!(buf.wait_closed_timeout(Duration::ZERO).await);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn writes_wake_no_waiter() {
    let buf = Arc::new(HeadTailBuffer::new());
    let writes = || {
        for _ in 0..100 {
            buf.write(b"output\n");
        }
    };
    assert_eq!(woken(&buf, 2, false, writes).await, 0);
}

#[tokio::test(start_paused = true)]
async fn a_bounded_wait_gives_up_at_its_timeout() {
    let buf = HeadTailBuffer::new();
    let start = tokio::time::Instant::now();
    assert!(!buf.wait_closed_timeout(Duration::from_secs(10)).await);
    assert_eq!(start.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_bounded_wait_returns_when_closed_before_its_timeout() {
    let buf = Arc::new(HeadTailBuffer::new());
    let closer = {
        let buf = Arc::clone(&buf);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            buf.close();
        })
    };
    let start = tokio::time::Instant::now();
    assert!(buf.wait_closed_timeout(Duration::from_secs(300)).await);
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    closer.await.expect("closer");
}

#[tokio::test(start_paused = true)]
async fn reset_reopens_the_buffer_for_the_next_close() {
    let buf = Arc::new(HeadTailBuffer::new());
    buf.close();
    buf.reset();
    assert!(!buf.is_closed());
    assert!(!buf.wait_closed_timeout(Duration::from_secs(1)).await);
    assert_eq!(woken(&buf, 1, false, || buf.close()).await, 1);
}

/// The same race through the real yield point: a simulation hook closes the
/// buffer when the waiter reaches `headtail.wait.between_check_and_await`.
/// Compiled when the agent's `sim` feature is on (as in the workspace
/// build, where the harness turns it on).
#[cfg(feature = "sim")]
mod at_the_yield_point {
    use std::cell::RefCell;
    use std::rc::Rc;

    use agent::Bug;
    use agent::sim::SimHook;
    use futures::future::BoxFuture;

    use super::*;

    /// Closes `buf` at the wait's yield point; records bug switches taken.
    struct CloseAtYield {
        buf: Arc<HeadTailBuffer>,
        seen: RefCell<Vec<String>>,
    }

    impl SimHook for CloseAtYield {
        fn yield_point(&self, name: &'static str) -> BoxFuture<'static, ()> {
            if name == "headtail.wait.between_check_and_await" {
                self.buf.close();
            }
            self.seen.borrow_mut().push(name.to_string());
            Box::pin(async {})
        }

        fn bug_taken(&self, bug: Bug) {
            self.seen.borrow_mut().push(format!("bug {bug}"));
        }

        fn event(&self, _kind: &'static str, _detail: String) {}
    }

    /// Whether a waiter woke when closed at the yield point, and what the
    /// hook saw.
    async fn run(lost_wakeup: bool) -> (bool, Vec<String>) {
        let buf = Arc::new(HeadTailBuffer::new());
        let hook = Rc::new(CloseAtYield {
            buf: Arc::clone(&buf),
            seen: RefCell::new(Vec::new()),
        });
        let _guard = agent::sim::install(hook.clone());
        let woke = tokio::time::timeout(LONG, buf.wait_closed_with(lost_wakeup))
            .await
            .is_ok();
        assert!(buf.is_closed());
        let seen = hook.seen.borrow().clone();
        (woke, seen)
    }

    #[tokio::test(start_paused = true)]
    async fn the_fixed_wait_wakes_on_a_close_at_its_yield_point() {
        let (woke, seen) = run(false).await;
        assert!(woke);
        assert_eq!(seen, ["headtail.wait.between_check_and_await"]);
    }

    #[tokio::test(start_paused = true)]
    async fn with_lost_wakeup_a_close_at_the_yield_point_is_lost_and_traced() {
        let (woke, seen) = run(true).await;
        assert!(!woke);
        assert_eq!(
            seen,
            ["headtail.wait.between_check_and_await", "bug lost-wakeup"]
        );
    }
}
