//! Synchronization points as yield points: thin wrappers the agent puts
//! around its locks, sends and wake-ups, so the seeded scheduler can reorder
//! tasks at every one of them, not only at the hand-placed [`yield_point!`]s.
//!
//! A hand-placed point separates two steps someone thought of. A slip that
//! moves a wake-up to the other side of such a point (a notify sent before
//! the state it announces is stored) is only caught when it happens to land
//! before it. shuttle and loom catch these by owning the primitives; here
//! the agent names its synchronization sites instead, and each is a yield
//! point under simulation:
//!
//! - [`lock`]: the decision comes *before* the acquisition, so another task
//!   may take the lock first (an uncontended `tokio::sync::Mutex` is ready
//!   at once and would never let anyone in).
//! - [`send`] (an async channel send) and [`publish`] (a synchronous notify,
//!   close, `try_send` or state store, run by the closure): the decision
//!   comes *after* the publish, so the woken task may run before the
//!   publisher's next step. A publish moved above the store it announces
//!   then wakes a reader that finds nothing.
//!
//! Which sites: every publish and lock acquisition in async agent code that
//! another task waits for or reads after. `parking_lot` locks are taken in
//! synchronous code where nothing can await; their publishing side gets a
//! [`publish`] in the nearest async caller, after the store. Left out: a
//! publish that ends its task (nothing of the publisher follows it, so a
//! decision after it orders nothing), reads right after an await (a
//! request's arrival, a channel receive is already a scheduling decision),
//! and primitives that exist only in real builds (the real exec's kill
//! `Notify`, the blocking pool's semaphore). Each site is listed in
//! `docs/design.md` (yield points).
//!
//! Names: a [`Site`] is built only by [`site!`] from a literal
//! `sync.<kind>:<where>` (`sync.lock:files.path`,
//! `sync.notify:headtail.close`), so traces read like the code and the
//! harness's build script finds every name (it collects `site!("...")`
//! literals as it collects `yield_point!("...")` ones) for coverage.
//!
//! Without the `sim` feature every wrapper is the bare primitive: [`lock`]
//! and [`send`] return the caller's own future, [`publish`] runs the closure
//! and returns a ready future, and a [`Site`] is a constant the optimiser
//! drops. With the feature and no hook installed, each costs one
//! thread-local read.

#[cfg(feature = "sim")]
use std::future::Future;
use std::future::IntoFuture;

/// A named synchronization site; build it with [`site!`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Site(&'static str);

impl Site {
    /// Checks the `sync.<kind>:<where>` shape at compile time (called from
    /// [`site!`] in a `const`), so a misspelt site fails the build.
    #[doc(hidden)]
    pub const fn new(name: &'static str) -> Site {
        let bytes = name.as_bytes();
        let prefix = b"sync.";
        assert!(
            bytes.len() > prefix.len(),
            "a sync site is named sync.<kind>:<where>"
        );
        let mut i = 0;
        while i < prefix.len() {
            assert!(
                bytes[i] == prefix[i],
                "a sync site is named sync.<kind>:<where>"
            );
            i += 1;
        }
        let mut colon = false;
        while i < bytes.len() {
            if bytes[i] == b':' {
                colon = i + 1 < bytes.len();
            }
            i += 1;
        }
        assert!(colon, "a sync site is named sync.<kind>:<where>");
        Site(name)
    }

    /// The site's name, as the trace and the coverage report show it.
    pub const fn name(self) -> &'static str {
        self.0
    }
}

/// Names a synchronization site: `site!("sync.lock:files.path")`. The
/// literal is checked at compile time (`sync.<kind>:<where>`) and collected
/// by the harness's yield-point catalog.
#[macro_export]
macro_rules! site {
    ($name:literal) => {{
        const SITE: $crate::sync::Site = $crate::sync::Site::new($name);
        SITE
    }};
}

#[cfg(feature = "sim")]
async fn decide(site: Site) {
    if let Some(f) = crate::yield_future(site.0) {
        f.await;
    }
}

/// Awaits `acquire` (a lock) after a yield point at `site`: another task
/// may take the lock first. `site` names a `sync.lock:` site.
#[cfg(feature = "sim")]
pub fn lock<F: IntoFuture>(site: Site, acquire: F) -> impl Future<Output = F::Output> {
    debug_assert!(site.0.starts_with("sync.lock:"), "{}", site.0);
    let acquire = acquire.into_future();
    async move {
        decide(site).await;
        acquire.await
    }
}

/// Awaits `acquire` (a lock); the yield point before it exists only under
/// simulation.
#[cfg(not(feature = "sim"))]
#[inline(always)]
pub fn lock<F: IntoFuture>(site: Site, acquire: F) -> F::IntoFuture {
    let _ = site;
    acquire.into_future()
}

/// Awaits `send` (a channel send), then a yield point at `site`: the
/// receiver may run before the sender's next step. `site` names a
/// `sync.send:` site.
#[cfg(feature = "sim")]
pub fn send<F: IntoFuture>(site: Site, send: F) -> impl Future<Output = F::Output> {
    debug_assert!(site.0.starts_with("sync.send:"), "{}", site.0);
    let send = send.into_future();
    async move {
        let out = send.await;
        decide(site).await;
        out
    }
}

/// Awaits `send` (a channel send); the yield point after it exists only
/// under simulation.
#[cfg(not(feature = "sim"))]
#[inline(always)]
pub fn send<F: IntoFuture>(site: Site, send: F) -> F::IntoFuture {
    let _ = site;
    send.into_future()
}

/// Runs `publish` (a notify, a close, a `try_send`, a store under a
/// `parking_lot` lock) at once, then the returned future is a yield point
/// at `site`: a woken task may run before the publisher's next step. The
/// publish happens even if the future is dropped unawaited. `site` names a
/// `sync.notify:` or `sync.publish:` site.
#[cfg(feature = "sim")]
pub fn publish<R>(site: Site, publish: impl FnOnce() -> R) -> impl Future<Output = R> {
    debug_assert!(
        site.0.starts_with("sync.notify:") || site.0.starts_with("sync.publish:"),
        "{}",
        site.0
    );
    let out = publish();
    async move {
        decide(site).await;
        out
    }
}

/// Runs `publish` at once; the yield point after it exists only under
/// simulation.
#[cfg(not(feature = "sim"))]
#[inline(always)]
pub fn publish<R>(site: Site, publish: impl FnOnce() -> R) -> std::future::Ready<R> {
    let _ = site;
    std::future::ready(publish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_hook_the_wrappers_only_run_the_primitive() {
        let out = futures::executor::block_on(async {
            let a = lock(site!("sync.lock:test.d"), async { 1 }).await;
            let b = send(site!("sync.send:test.d"), async { 2 }).await;
            let c = publish(site!("sync.notify:test.d"), || 3).await;
            a + b + c
        });
        assert_eq!(out, 6);
    }

    #[test]
    fn a_site_keeps_its_name() {
        assert_eq!(site!("sync.lock:files.path").name(), "sync.lock:files.path");
    }
}

#[cfg(all(test, feature = "sim"))]
mod hooked_tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use futures::future::BoxFuture;

    use super::*;
    use crate::SimHook;

    /// Records, in order, the yield points hit and the steps the test logs.
    #[derive(Default)]
    struct Log(RefCell<Vec<String>>);

    impl SimHook for Log {
        fn yield_point(&self, name: &'static str) -> BoxFuture<'static, ()> {
            self.0.borrow_mut().push(format!("yield {name}"));
            Box::pin(std::future::ready(()))
        }
        fn bug_taken(&self, _: crate::Bug) {}
        fn event(&self, _: &'static str, _: String) {}
    }

    /// Runs `body` under a recording hook and returns what it logged.
    fn check(body: impl FnOnce(&Rc<Log>)) -> Vec<String> {
        let log = Rc::new(Log::default());
        let _guard = crate::install(log.clone());
        body(&log);
        log.0.take()
    }

    fn step(log: &Log, what: &str) -> &'static str {
        log.0.borrow_mut().push(what.to_string());
        "done"
    }

    #[test]
    fn a_lock_yields_before_it_acquires() {
        let seen = check(|log| {
            let got = futures::executor::block_on(lock(site!("sync.lock:test.a"), async {
                step(log, "acquire")
            }));
            assert_eq!(got, "done");
        });
        assert_eq!(seen, ["yield sync.lock:test.a", "acquire"]);
    }

    #[test]
    fn a_send_yields_after_it_sends() {
        let seen = check(|log| {
            futures::executor::block_on(send(site!("sync.send:test.b"), async {
                step(log, "send")
            }));
        });
        assert_eq!(seen, ["send", "yield sync.send:test.b"]);
    }

    #[test]
    fn a_publish_runs_at_once_and_yields_when_awaited() {
        let seen = check(|log| {
            let fut = publish(site!("sync.notify:test.c"), || step(log, "notify"));
            log.0.borrow_mut().push("before await".into());
            futures::executor::block_on(fut);
        });
        assert_eq!(seen, ["notify", "before await", "yield sync.notify:test.c"]);
    }
}
