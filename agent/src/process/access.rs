//! What a caller may do with a tracked process once it has one: the chat
//! visibility check, the bounded wait for its exit and the output snapshot
//! in the contract's order (`docs/agent-api.md#processes`).

use std::time::Duration;

use uuid::Uuid;

use super::Error;
use super::manager::Process;
use super::wire::ProcessOutputResponse;
use crate::{Bug, BugSet};

/// Whether a caller with chat context `caller` may read or signal `process`:
/// a chat caller may not touch another chat's process, and is told it does
/// not exist ([`Error::NotFound`], not a refusal). `chat-id-unchecked` skips
/// the check.
pub fn check_visible(process: &Process, caller: Option<Uuid>, bugs: &BugSet) -> Result<(), Error> {
    if process.visible_to(caller) {
        return Ok(());
    }
    if crate::bugs::take_bug(bugs, Bug::ChatIdUnchecked) {
        return Ok(());
    }
    Err(Error::NotFound(process.id().to_string()))
}

/// Waits until the process's output is final (its buffer closed), at most
/// `max_wait`. The caller leaving drops this future. `lost-wakeup` checks
/// before registering for the wake-up (race R7, `docs/races.md`).
///
/// Under simulation the timeout is traced as the request's timer: armed
/// when the wait starts and disarmed when the output closes first. A
/// timeout that passes is recorded by the harness as `timer.fire` (as a
/// write deadline's is), and the caller leaving ends it with its request,
/// so a wait lost to `lost-wakeup` shows in a hung run's pending timers.
pub async fn wait_for_exit(process: &Process, max_wait: Duration, bugs: &BugSet) {
    let buffer = process.buffer().clone();
    crate::sim::event("timer.arm", || {
        format!(
            "output wait timeout due in {:.3}s: the wait answers with the output so far",
            max_wait.as_secs_f64()
        )
    });
    tokio::select! {
        biased;
        () = buffer.wait_closed_with(bugs.is_on(Bug::LostWakeup)) => {
            crate::sim::event("timer.disarm", || {
                "output wait timeout disarmed (the output closed)".to_string()
            });
        }
        () = tokio::time::sleep(max_wait) => {}
    }
}

/// The process's output and status. Info before output (race R1): the exit
/// is published only after every byte is in the buffer, so "exited" makes
/// the following read final. `stale-output-read` swaps the two reads.
pub async fn read_output(process: &Process, bugs: &BugSet) -> ProcessOutputResponse {
    let (info, (output, truncated)) = if crate::bugs::take_bug(bugs, Bug::StaleOutputRead) {
        let out = process.buffer().output();
        crate::yield_point!("proc.output.between_info_and_output");
        (process.info(), out)
    } else {
        let info = process.info();
        crate::yield_point!("proc.output.between_info_and_output");
        (info, process.buffer().output())
    };
    ProcessOutputResponse {
        output,
        truncated,
        running: info.running,
        exit_code: if info.running { None } else { info.exit_code },
    }
}
