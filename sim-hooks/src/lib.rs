//! Simulation hooks: named yield points, bug-switch notes and trace events.
//!
//! turmoil runs each host on one thread, so two reads in one handler never
//! interleave with another task unless there is an await between them. Real
//! Go (and a multi-threaded tokio) preempts anywhere. A [`yield_point!`]
//! marks a place where another task may run; under simulation the harness's
//! seeded scheduler decides, per hit, whether to yield or sleep a little.
//!
//! Without the `sim` feature everything here compiles to nothing. With it,
//! every hook is still inert unless a [`SimHook`] is installed on the current
//! thread (each simulation runs on one OS thread), so a real `agent` binary
//! built in a workspace with the feature unified behaves exactly as without.

pub mod bugs;

pub use bugs::{Bug, BugSet, UnknownBug};

#[cfg(feature = "sim")]
use std::cell::RefCell;
#[cfg(feature = "sim")]
use std::rc::Rc;

use futures::future::BoxFuture;

/// What a simulation installs to observe and steer the agent.
pub trait SimHook {
    /// A yield point was reached; the returned future is awaited in place
    /// (it may yield to the scheduler or sleep on the sim clock).
    fn yield_point(&self, name: &'static str) -> BoxFuture<'static, ()>;
    /// The buggy branch of a known-bug switch was taken.
    fn bug_taken(&self, bug: crate::Bug);
    /// A free-form trace event from the agent (e.g. a process exited).
    fn event(&self, kind: &'static str, detail: String);
}

#[cfg(feature = "sim")]
thread_local! {
    static HOOK: RefCell<Option<Rc<dyn SimHook>>> = const { RefCell::new(None) };
}

/// Installs `hook` on this thread until the returned guard drops.
#[cfg(feature = "sim")]
pub fn install(hook: Rc<dyn SimHook>) -> HookGuard {
    let previous = HOOK.with(|h| h.borrow_mut().replace(hook));
    HookGuard { previous }
}

/// Restores the previous hook when dropped.
#[cfg(feature = "sim")]
pub struct HookGuard {
    previous: Option<Rc<dyn SimHook>>,
}

#[cfg(feature = "sim")]
impl Drop for HookGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        HOOK.with(|h| *h.borrow_mut() = previous);
    }
}

#[cfg(feature = "sim")]
fn current() -> Option<Rc<dyn SimHook>> {
    HOOK.with(|h| h.borrow().clone())
}

/// The future behind [`yield_point!`]: ready at once outside a simulation.
#[doc(hidden)]
pub fn yield_future(name: &'static str) -> Option<BoxFuture<'static, ()>> {
    #[cfg(feature = "sim")]
    {
        current().map(|hook| hook.yield_point(name))
    }
    #[cfg(not(feature = "sim"))]
    {
        let _ = name;
        None
    }
}

/// Marks a place where, under simulation, another task may run. Must be used
/// in an async context; compiles to nothing without the `sim` feature.
#[cfg(feature = "sim")]
#[macro_export]
macro_rules! yield_point {
    ($name:literal) => {{
        if let Some(f) = $crate::yield_future($name) {
            f.await;
        }
    }};
}

/// Marks a place where, under simulation, another task may run. Must be used
/// in an async context; compiles to nothing without the `sim` feature.
#[cfg(not(feature = "sim"))]
#[macro_export]
macro_rules! yield_point {
    ($name:literal) => {{}};
}

/// Records that the buggy branch of `bug` was taken (trace + coverage).
pub fn bug_taken(bug: crate::Bug) {
    tracing::debug!(bug = bug.name(), "known-bug switch taken");
    #[cfg(feature = "sim")]
    if let Some(hook) = current() {
        hook.bug_taken(bug);
    }
}

/// Emits a trace event; `detail` is only built under an installed hook.
pub fn event(kind: &'static str, detail: impl FnOnce() -> String) {
    #[cfg(feature = "sim")]
    if let Some(hook) = current() {
        hook.event(kind, detail());
    }
    #[cfg(not(feature = "sim"))]
    {
        let _ = (kind, detail);
    }
}
