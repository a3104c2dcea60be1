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
//!
//! Task identity: [`task`] wraps a future (a request, an exit task, a watch
//! loop) with a label; while it is polled, [`current_task`] names it, so the
//! harness attributes every event to the request or background task that
//! caused it, and can tell which task ran while a yield point gave way.
//!
//! Synchronization points: [`sync`] wraps the agent's locks, sends and
//! wake-ups so each is a named yield point too (`sync.lock:files.path`),
//! and the bare primitive without the feature.

pub mod bugs;
pub mod sync;

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
    /// A fresh per-run number for `kind` (see [`next_id`]).
    fn next_id(&self, kind: &'static str) -> u64 {
        let _ = kind;
        0
    }
    /// A labelled task was polled while [`watch_polls`] was on: who ran
    /// while a yield point let others go first.
    fn task_polled(&self, label: &std::sync::Arc<str>) {
        let _ = label;
    }
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

// ---------------------------------------------------------------------------
// Task identity
// ---------------------------------------------------------------------------

#[cfg(feature = "sim")]
thread_local! {
    /// The label of the innermost [`Task`] being polled on this thread.
    static CURRENT_TASK: RefCell<Option<std::sync::Arc<str>>> = const { RefCell::new(None) };
    /// Set while the hook wants to hear which task runs next (a yield is
    /// outstanding); keeps every other poll down to one flag read.
    static WATCHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Counts [`Task`] polls, so a wrapper can tell whether a nested task
    /// ran inside its own poll.
    static POLLS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The label of the task whose code is running, if it was started through
/// [`task`] under an installed hook.
pub fn current_task() -> Option<std::sync::Arc<str>> {
    #[cfg(feature = "sim")]
    {
        CURRENT_TASK.with(|t| t.borrow().clone())
    }
    #[cfg(not(feature = "sim"))]
    {
        None
    }
}

/// A fresh per-run number for `kind` (request ids, connection ids), from the
/// installed hook; 0 outside a simulation.
pub fn next_id(kind: &'static str) -> u64 {
    #[cfg(feature = "sim")]
    if let Some(hook) = current() {
        return hook.next_id(kind);
    }
    let _ = kind;
    0
}

/// Asks the task wrappers to report the next polls to the hook
/// ([`SimHook::task_polled`]) until called with `false`.
#[cfg(feature = "sim")]
pub fn watch_polls(on: bool) {
    WATCHING.with(|w| w.set(on));
}

/// Runs `f` as if the task labelled `label` were running (for work a task
/// hands to another one, e.g. a response body polled by its connection).
pub fn with_task<R>(label: Option<&std::sync::Arc<str>>, f: impl FnOnce() -> R) -> R {
    #[cfg(feature = "sim")]
    if let Some(label) = label {
        let _restore = enter(label.clone());
        return f();
    }
    let _ = label;
    f()
}

#[cfg(feature = "sim")]
struct Restore(Option<std::sync::Arc<str>>);

#[cfg(feature = "sim")]
impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT_TASK.with(|t| *t.borrow_mut() = previous);
    }
}

#[cfg(feature = "sim")]
fn enter(label: std::sync::Arc<str>) -> Restore {
    Restore(CURRENT_TASK.with(|t| t.borrow_mut().replace(label)))
}

/// Gives `fut` a task identity for the trace: while it is polled, events
/// are attributed to `label` (built only under an installed hook). Without
/// the `sim` feature this is `fut` itself.
#[cfg(feature = "sim")]
pub fn task<F: std::future::Future>(label: impl FnOnce() -> String, fut: F) -> Task<F> {
    let label = current().map(|_| std::sync::Arc::<str>::from(label()));
    Task {
        label,
        inner: Box::pin(fut),
    }
}

/// Gives `fut` a task identity for the trace; without the `sim` feature this
/// is `fut` itself.
#[cfg(not(feature = "sim"))]
pub fn task<F: std::future::Future>(label: impl FnOnce() -> String, fut: F) -> F {
    let _ = label;
    fut
}

/// The label of the task a [`Task`] future runs as (for handing it on).
#[cfg(feature = "sim")]
pub fn label_of<F>(task: &Task<F>) -> Option<std::sync::Arc<str>> {
    task.label.clone()
}

/// A future with a task identity (see [`task`]).
#[cfg(feature = "sim")]
pub struct Task<F> {
    label: Option<std::sync::Arc<str>>,
    inner: std::pin::Pin<Box<F>>,
}

#[cfg(feature = "sim")]
impl<F: std::future::Future> std::future::Future for Task<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let Some(label) = self.label.clone() else {
            return self.inner.as_mut().poll(cx);
        };
        let seq = POLLS.with(|p| {
            let n = p.get().wrapping_add(1);
            p.set(n);
            n
        });
        let restore = enter(label.clone());
        let out = self.inner.as_mut().poll(cx);
        drop(restore);
        // Only the innermost task counts as "ran": an outer wrapper (a
        // connection around its request) polled only to reach it did not.
        if WATCHING.with(|w| w.get())
            && POLLS.with(|p| p.get()) == seq
            && let Some(hook) = current()
        {
            hook.task_polled(&label);
        }
        out
    }
}
