//! Panics per run: a panic anywhere in a simulation is a failure.
//!
//! A panic in a task the agent spawned (a request handler, an exit task) is
//! caught by tokio and only ends that task; the simulation may then finish
//! "successfully" (`docs/design.md#simulation-setup`). A process-wide panic
//! hook, installed once, records every panic on a thread that has an active
//! [`Capture`] (each simulation runs on one OS thread) and stays silent about
//! it; panics on other threads go to the previous hook as before.

use std::cell::RefCell;
use std::panic::PanicHookInfo;
use std::sync::Once;

thread_local! {
    static CAUGHT: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

fn describe(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string());
    match info.location() {
        Some(l) => format!("{msg} (at {}:{})", l.file(), l.line()),
        None => msg,
    }
}

/// Collects the panics of this thread while alive.
pub struct Capture {
    _private: (),
}

impl Capture {
    /// Starts capturing on the current thread.
    pub fn start() -> Capture {
        INSTALL.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let captured = CAUGHT.with(|c| match c.try_borrow_mut() {
                    Ok(mut slot) => match slot.as_mut() {
                        Some(list) => {
                            list.push(describe(info));
                            true
                        }
                        None => false,
                    },
                    Err(_) => false,
                });
                if !captured {
                    previous(info);
                }
            }));
        });
        CAUGHT.with(|c| *c.borrow_mut() = Some(Vec::new()));
        Capture { _private: () }
    }

    /// The panics so far, oldest first.
    pub fn panics(&self) -> Vec<String> {
        CAUGHT.with(|c| c.borrow().clone().unwrap_or_default())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        CAUGHT.with(|c| *c.borrow_mut() = None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_in_spawned_tasks_are_captured_with_their_location() {
        let capture = Capture::start();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let r = tokio::spawn(async { panic!("boom in a handler") }).await;
            assert!(r.is_err());
        });
        let panics = capture.panics();
        assert_eq!(panics.len(), 1, "{panics:?}");
        assert!(
            panics[0].starts_with("boom in a handler (at harness/src/panics.rs:"),
            "{panics:?}"
        );
        drop(capture);
        CAUGHT.with(|c| assert!(c.borrow().is_none()));
    }
}
