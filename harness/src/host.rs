//! Which simulated host is running right now.
//!
//! turmoil runs every host on the simulation thread, one tick at a time,
//! inside a tracing span named `node` whose `name` field is the host name;
//! it offers no public "current host" call. [`HostTracker`] is a minimal
//! tracing subscriber, installed for the duration of a run on the
//! simulation thread only, that follows exactly those spans, so trace events
//! from any task (also ones the agent spawns) are attributed to their host.

use parking_lot::Mutex;
use std::cell::RefCell;
use std::num::NonZeroU64;
use std::sync::{Arc, Once};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

static PRIMED: Once = Once::new();

thread_local! {
    static STACK: RefCell<Vec<Arc<str>>> = const { RefCell::new(Vec::new()) };
}

/// The host whose code is running on this thread, if inside a turmoil tick.
pub fn current() -> Option<Arc<str>> {
    STACK.with(|s| s.borrow().last().cloned())
}

/// Follows turmoil's `node` spans. Span ids are indices into the interned
/// host names, so no per-span state is kept.
#[derive(Default)]
pub struct HostTracker {
    names: Mutex<Vec<Arc<str>>>,
}

/// Restores the previous subscriber and clears the host stack when dropped.
pub struct HostTrackerGuard {
    _default: tracing::subscriber::DefaultGuard,
}

impl Drop for HostTrackerGuard {
    fn drop(&mut self) {
        STACK.with(|s| s.borrow_mut().clear());
    }
}

impl HostTracker {
    /// Installs a tracker as this thread's tracing subscriber.
    ///
    /// tracing caches each callsite's interest process-wide, and while at
    /// most one dispatcher is registered, a callsite's *first* registration
    /// (and an explicit cache rebuild) asks only the default of the calling
    /// thread. A thread running turmoil without a tracker could thus cache
    /// "never" for turmoil's `node` span and blind every tracker (seen as a
    /// flaky test). So the first install in a process registers that
    /// callsite by running an empty simulation under a tracker, and every
    /// install then rebuilds the cache from this thread, whose tracker says
    /// "always". Later recomputations (a dispatcher registering anywhere)
    /// consult every live dispatcher, this one included.
    pub fn install() -> HostTrackerGuard {
        STACK.with(|s| s.borrow_mut().clear());
        let guard = HostTrackerGuard {
            _default: tracing::subscriber::set_default(HostTracker::default()),
        };
        PRIMED.call_once(|| {
            let mut sim = turmoil::Builder::new().build();
            sim.client("prime", async { Ok(()) });
            if let Err(e) = sim.run() {
                tracing::warn!(error = %e, "priming the host tracker failed");
            }
        });
        tracing_core::callsite::rebuild_interest_cache();
        STACK.with(|s| s.borrow_mut().clear());
        guard
    }

    /// The span id of host `name`, interning it on first sight. turmoil
    /// opens one span per host per step, so a known name allocates nothing.
    fn intern(&self, name: &str) -> Id {
        let mut names = self.names.lock();
        let index = match names.iter().position(|n| &**n == name) {
            Some(i) => i,
            None => {
                names.push(Arc::from(name));
                names.len() - 1
            }
        };
        Id::from_non_zero_u64(NonZeroU64::MIN.saturating_add(index as u64))
    }

    fn name(&self, id: &Id) -> Option<Arc<str>> {
        let names = self.names.lock();
        let index = usize::try_from(id.into_u64().checked_sub(1)?).ok()?;
        names.get(index).cloned()
    }
}

fn is_node_span(meta: &Metadata<'_>) -> bool {
    meta.is_span() && meta.name() == "node" && meta.target().starts_with("turmoil")
}

/// Reads a `node` span's `name` field into the tracker's id for it.
struct NameVisitor<'t> {
    tracker: &'t HostTracker,
    id: Option<Id>,
}

impl Visit for NameVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "name" {
            self.id = Some(self.tracker.intern(value));
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "name" && self.id.is_none() {
            let text = format!("{value:?}");
            self.id = Some(self.tracker.intern(text.trim_matches('"')));
        }
    }
}

impl Subscriber for HostTracker {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if is_node_span(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        is_node_span(meta)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::INFO)
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut visitor = NameVisitor {
            tracker: self,
            id: None,
        };
        span.record(&mut visitor);
        visitor.id.unwrap_or_else(|| self.intern("?"))
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, _event: &Event<'_>) {}

    fn enter(&self, span: &Id) {
        let name = self.name(span).unwrap_or_else(|| Arc::from("?"));
        STACK.with(|s| s.borrow_mut().push(name));
    }

    fn exit(&self, _span: &Id) {
        STACK.with(|s| {
            s.borrow_mut().pop();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a one-tick simulation on a fresh thread without a tracker.
    fn run_turmoil_without_a_tracker() {
        std::thread::spawn(|| {
            let mut sim = turmoil::Builder::new().build();
            sim.client("bare", async { Ok(()) });
            sim.run().unwrap();
        })
        .join()
        .unwrap();
    }

    #[test]
    fn events_inside_a_tick_are_attributed_to_the_ticking_host() {
        let _guard = HostTracker::install();
        // Another thread hitting turmoil's span first must not blind us.
        run_turmoil_without_a_tracker();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut sim = turmoil::Builder::new().build();
        let s = seen.clone();
        sim.host("server", move || {
            let s = s.clone();
            async move {
                s.lock().push(current().map(|h| h.to_string()));
                std::future::pending::<()>().await;
                Ok(())
            }
        });
        let s = seen.clone();
        sim.client("client", async move {
            tokio::spawn(async move {
                s.lock().push(current().map(|h| h.to_string()));
            })
            .await?;
            Ok(())
        });
        sim.run().unwrap();
        assert_eq!(current(), None);
        let seen = seen.lock().clone();
        assert_eq!(
            seen,
            vec![Some("server".to_string()), Some("client".to_string())]
        );
    }
}
