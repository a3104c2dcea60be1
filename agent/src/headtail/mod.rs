//! Bounded process output: the head/tail buffer
//! (`docs/agent-api.md#process-output`).
//!
//! A process's stdout/stderr go into a [`HeadTailBuffer`]: the first
//! [`MAX_HEAD_BYTES`] bytes (the head), a ring of the newest
//! [`MAX_TAIL_BYTES`] bytes past the head (the tail), and the count of every
//! byte written. Memory stays bounded however much a process prints, and
//! [`HeadTailBuffer::output`] renders the snapshot shown to the LLM.
//!
//! # Wire contract (unchanged from the original)
//!
//! * Writes always succeed and report their full length; an empty write
//!   changes nothing.
//! * Snapshot = head, then the marker `"\n\n... [omitted N bytes] ...\n\n"`
//!   if bytes were omitted, then the tail. Every line longer than
//!   [`MAX_LINE_LENGTH`] bytes is cut and ends with
//!   [`LINE_TRUNCATION_SUFFIX`] (exactly 2048 bytes when the text is ASCII).
//! * [`Truncation`] `{original_bytes, retained_bytes, omitted_bytes,
//!   strategy: "head_tail"}`: `None` when the output never went past the head
//!   (and, see below, needed no cut for the cap); `retained_bytes` is the
//!   byte length of the rendered snapshot.
//! * `bytes()`, `len()`, `total_written()`, `reset()`, `close()` as in the
//!   original; a sized constructor ([`HeadTailBuffer::sized`]) for tests.
//!
//! # Improvements over the original, all deliberate
//!
//! The ids B1..B8 are the original buffer's weaknesses in `docs/races.md`.
//!
//! **Always valid UTF-8 (B1).** No cut splits a multi-byte character:
//! * At the end of the head, when bytes were omitted after it, a trailing
//!   *incomplete* character (a lead byte with fewer valid continuation bytes
//!   than it announces) is dropped.
//! * At the start of the tail, up to three leading continuation bytes are
//!   dropped: the rest of a character whose start was omitted (or stray
//!   bytes, which would only have rendered as U+FFFD).
//! * A long line keeps its longest prefix of whole characters within
//!   2032 bytes, so with multi-byte text it may end up to three bytes short
//!   of 2048.
//!
//! Bytes dropped at the head/tail cuts count as omitted: `omitted_bytes`
//! (and the marker's N) is always the number of input bytes between the last
//! byte shown before the marker and the first byte shown after it.
//!
//! Invalid input is replaced as [`String::from_utf8_lossy`] does: one U+FFFD
//! per *maximal invalid subpart* (a truncated sequence like `E2 82` gives one
//! U+FFFD, a stray `80 80` gives two). Go's JSON encoder, which the original
//! relied on, gives one U+FFFD per invalid byte; the two differ only on
//! truncated multi-byte sequences. Replacement happens per line before the
//! line limit applies, so line lengths are measured in rendered bytes (a
//! U+FFFD counts 3).
//!
//! **No fabricated newline (B3).** When nothing was omitted, head and tail
//! are joined exactly as written: a 20,000-byte line stays one line (cut as
//! one long line), and there is no marker. `omitted_bytes` is then 0 and the
//! info is still `Some` (the output did reach the tail).
//!
//! **Never over the tools' cap (B5).** The snapshot never exceeds
//! [`MAX_RENDERED_BYTES`] (32,768, the chat tools' cap), so the tools never
//! chop the newest output. Normally only the marker (and, with invalid bytes,
//! U+FFFD expansion) can push it over. When the whole would not fit, whole
//! lines are dropped, never parts of lines: room is first reserved for the
//! longest possible marker (the one for `original_bytes`); then the tail's
//! lines are kept from the newest backwards while they fit; if all of them
//! fit, the head's lines are kept from the oldest forwards in what remains,
//! otherwise none of the head is. Everything between is omitted and counted
//! in the marker. When nothing had been omitted before (head and tail
//! joined), lines starting in the head count as head lines for this. Such a
//! cut always reports `Some` info, even when the output never reached the
//! tail (only possible with heavy invalid input or a sized head above the
//! cap).
//!
//! **Consistent snapshots (B7).** `output()` renders directly from the ring
//! under the lock: a snapshot is never torn by a concurrent write, and no
//! intermediate 32 KiB copy is made. Each shown byte is copied once, into a
//! `String` allocated once at its final size; long lines are found with one
//! `memrchr` per 2 KiB window, and the part of a long line past its kept
//! prefix is only scanned for its end, never validated or copied. A writer
//! that arrives meanwhile waits for the render (about 1-2 µs for a full
//! buffer), never for a reader to consume anything.
//!
//! **Cheap writes (B8).** One mutex (no poisoning: every operation leaves
//! the state consistent). A write never waits for a reader to consume
//! anything and never fails; once the ring exists it allocates nothing and
//! makes no syscall of its own (it notifies no one: [`close`] is the only
//! wake-up). A write larger than the ring copies only its last `max_tail`
//! bytes, the only ones that can survive.
//!
//! **Sized(0, n) works (B6).** A zero-byte head counts as full, so the ring's
//! bytes are rendered (after the marker) instead of an empty snapshot.
//!
//! # Waiting for close
//!
//! [`wait_closed`] resolves once [`close`] was called, on tokio primitives
//! with no polling; [`wait_closed_timeout`] bounds it. A waiter registers for
//! the wake-up before it checks the flag, so one that arrives before, during
//! or after `close` always wakes (race R7 in `docs/races.md`); see `wait.rs`.
//!
//! [`close`]: HeadTailBuffer::close
//! [`wait_closed`]: HeadTailBuffer::wait_closed
//! [`wait_closed_timeout`]: HeadTailBuffer::wait_closed_timeout

mod render;
mod ring;
mod utf8;
mod wait;

use std::fmt;
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};

use ring::State;
use wait::CloseSignal;

/// Bytes kept from the start of the output.
pub const MAX_HEAD_BYTES: usize = 16384;
/// Bytes kept from the end of the output.
pub const MAX_TAIL_BYTES: usize = 16384;
/// Longest line rendered whole, in rendered bytes.
pub const MAX_LINE_LENGTH: usize = 2048;
/// Ends every line cut at [`MAX_LINE_LENGTH`].
pub const LINE_TRUNCATION_SUFFIX: &str = " ... [truncated]";
/// The largest snapshot [`HeadTailBuffer::output`] returns: the chat tools'
/// cap on output shown to the model.
pub const MAX_RENDERED_BYTES: usize = 32768;
/// [`Truncation::strategy`] of this buffer.
pub const STRATEGY: &str = "head_tail";

/// Truncation record (`ProcessTruncation` on the wire); a wire type.
pub use agent_wire::Truncation;

/// Process output with bounded memory and a blocking wait for close.
pub struct HeadTailBuffer {
    /// The one lock. `parking_lot`'s rather than std's: with several writers on
    /// few cores (benchmark workload W5: 4 threads, 2 cores) it spins, then
    /// yields so a preempted holder can finish, before parking, where std's
    /// parks after a short spin and then pays a futex wake on every unlock;
    /// measured here that doubles W5's throughput, and the uncontended cost is
    /// the same.
    state: Mutex<State>,
    closed: CloseSignal,
}

impl Default for HeadTailBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for HeadTailBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.lock();
        f.debug_struct("HeadTailBuffer")
            .field("total_written", &s.total())
            .field("len", &s.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl HeadTailBuffer {
    /// A buffer with the production sizes.
    pub fn new() -> Self {
        Self::sized(MAX_HEAD_BYTES, MAX_TAIL_BYTES)
    }

    /// A buffer keeping `max_head` first and `max_tail` last bytes (tests use
    /// small sizes to reach the tail quickly). Either may be 0.
    pub fn sized(max_head: usize, max_tail: usize) -> Self {
        HeadTailBuffer {
            state: Mutex::new(State::new(max_head, max_tail)),
            closed: CloseSignal::default(),
        }
    }

    #[inline]
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Appends `p` and returns its length: never blocks on readers, never
    /// fails, wakes no one.
    #[inline]
    pub fn write(&self, p: &[u8]) -> usize {
        if p.is_empty() {
            return 0;
        }
        self.lock().write(p);
        p.len()
    }

    /// The LLM snapshot and its truncation info (rules in the module docs).
    pub fn output(&self) -> (String, Option<Truncation>) {
        render::render(self.lock().view())
    }

    /// The retained raw bytes, `head ++ tail` (no marker, no line cuts), as an
    /// independent copy.
    pub fn bytes(&self) -> Vec<u8> {
        self.lock().bytes()
    }

    /// Number of retained bytes (head plus ring contents).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no byte is retained.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every byte ever written since creation or the last [`reset`](Self::reset).
    pub fn total_written(&self) -> u64 {
        self.lock().total()
    }

    /// Forgets all output and reopens the buffer; waiters keep waiting for
    /// the next [`close`](Self::close).
    pub fn reset(&self) {
        let mut state = self.lock();
        state.reset();
        self.closed.reopen();
    }

    /// Marks the output complete and wakes every waiter.
    pub fn close(&self) {
        self.closed.close();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_closed()
    }

    /// Resolves once [`close`](Self::close) has been called (at once if it
    /// already was). Wrap in a timeout for a bounded wait, or use
    /// [`wait_closed_timeout`](Self::wait_closed_timeout).
    pub async fn wait_closed(&self) {
        self.wait_closed_with(false).await;
    }

    /// [`wait_closed`](Self::wait_closed) with the `lost-wakeup` known-bug
    /// switch: `true` checks the flag before registering for the wake-up, so
    /// a close in between is lost (race R7).
    pub async fn wait_closed_with(&self, lost_wakeup: bool) {
        self.closed.wait(lost_wakeup).await;
    }

    /// Waits for close at most `timeout` (on the tokio clock); returns
    /// whether the buffer is closed.
    pub async fn wait_closed_timeout(&self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.wait_closed())
            .await
            .is_ok()
    }
}
