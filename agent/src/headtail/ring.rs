//! The buffer's state behind its one mutex: the head, the tail ring and the
//! byte count, and the write algorithm of spec section 1.2.
//!
//! Memory is bounded by `max_head + max_tail` whatever is written. The ring is
//! allocated on the first byte that reaches it and never again (a reset keeps
//! it), so once it exists a write allocates nothing; the head grows
//! geometrically up to `max_head` and also stops allocating once full.

/// Head, tail ring and counters. Everything here runs under the buffer's lock.
#[derive(Debug)]
pub(super) struct State {
    max_head: usize,
    max_tail: usize,
    /// The first bytes ever written, at most `max_head`.
    head: Vec<u8>,
    /// The ring of the newest bytes past the head: empty until the first byte
    /// reaches it, then exactly `max_tail` long.
    ring: Vec<u8>,
    /// Where the next ring byte goes.
    ring_pos: usize,
    /// Whether the ring has been filled at least once (then it holds
    /// `ring[ring_pos..] ++ ring[..ring_pos]`, oldest first).
    ring_full: bool,
    /// Every byte ever written (since the last reset).
    total: u64,
}

/// A borrowed, consistent view of the state for rendering under the lock.
#[derive(Clone, Copy, Debug)]
pub(super) struct View<'a> {
    pub head: &'a [u8],
    /// The tail, oldest first, as at most two runs of the ring.
    pub tail: [&'a [u8]; 2],
    pub total: u64,
}

impl State {
    pub(super) fn new(max_head: usize, max_tail: usize) -> Self {
        State {
            max_head,
            max_tail,
            head: Vec::new(),
            ring: Vec::new(),
            ring_pos: 0,
            ring_full: false,
            total: 0,
        }
    }

    /// Appends `p` (non-empty): head first, the rest into the ring. A part
    /// larger than the ring copies only its last `max_tail` bytes, the only
    /// ones that can survive (spec W8).
    #[inline]
    pub(super) fn write(&mut self, p: &[u8]) {
        self.total += p.len() as u64;
        let mut rest = p;
        let room = self.max_head - self.head.len();
        if room > 0 {
            let n = room.min(rest.len());
            self.reserve_head(n);
            self.head.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if rest.is_empty() {
                return;
            }
        }
        self.write_ring(rest);
    }

    #[inline]
    fn write_ring(&mut self, rest: &[u8]) {
        let max = self.max_tail;
        if max == 0 {
            return;
        }
        if self.ring.is_empty() {
            self.ring = vec![0; max];
        }
        if rest.len() >= max {
            // Whatever the ring held is overwritten: keep the last `max`
            // bytes, laid out unwrapped.
            copy(&mut self.ring, &rest[rest.len() - max..]);
            self.ring_pos = 0;
            self.ring_full = true;
            return;
        }
        let pos = self.ring_pos;
        let first = (max - pos).min(rest.len());
        copy(&mut self.ring[pos..pos + first], &rest[..first]);
        let second = rest.len() - first;
        if second > 0 {
            copy(&mut self.ring[..second], &rest[first..]);
            self.ring_pos = second;
            self.ring_full = true;
        } else if pos + first == max {
            self.ring_pos = 0;
            self.ring_full = true;
        } else {
            self.ring_pos = pos + first;
        }
    }

    /// Grows the head's allocation for `n` more bytes: doubling, never past
    /// `max_head`, so a full head has allocated a handful of times at most.
    fn reserve_head(&mut self, n: usize) {
        let len = self.head.len();
        if self.head.capacity() - len >= n {
            return;
        }
        let want = (self.head.capacity() * 2)
            .max(len + n)
            .max(256)
            .min(self.max_head);
        self.head.reserve_exact(want - len);
    }

    pub(super) fn view(&self) -> View<'_> {
        let tail = if self.ring_full {
            [&self.ring[self.ring_pos..], &self.ring[..self.ring_pos]]
        } else {
            [&self.ring[..self.ring_pos], &[][..]]
        };
        View {
            head: &self.head,
            tail,
            total: self.total,
        }
    }

    pub(super) fn total(&self) -> u64 {
        self.total
    }

    /// Bytes retained: head plus what the ring holds.
    pub(super) fn len(&self) -> usize {
        self.head.len()
            + if self.ring_full {
                self.max_tail
            } else {
                self.ring_pos
            }
    }

    /// `head ++ tail`, raw, as an independent copy.
    pub(super) fn bytes(&self) -> Vec<u8> {
        let v = self.view();
        let mut out = Vec::with_capacity(self.len());
        out.extend_from_slice(v.head);
        out.extend_from_slice(v.tail[0]);
        out.extend_from_slice(v.tail[1]);
        out
    }

    /// Forgets every byte; keeps the allocations.
    pub(super) fn reset(&mut self) {
        self.head.clear();
        self.ring_pos = 0;
        self.ring_full = false;
        self.total = 0;
    }
}

/// Bytes per `memcpy` call when filling the ring.
const COPY_PIECE: usize = 2048;

/// `dst.copy_from_slice(src)` in pieces of at most [`COPY_PIECE`] bytes.
///
/// Why: glibc's `memcpy` switches to `rep movsb` from 4 KiB on AVX2
/// machines, which on this project's (AMD EPYC) machines copies 4 KiB in
/// ~51 ns where two 2 KiB vector copies take ~43 ns (16 KiB: ~181 vs
/// ~175 ns). The ring write is the whole cost of a large write.
#[inline]
fn copy(dst: &mut [u8], src: &[u8]) {
    if src.len() <= COPY_PIECE {
        dst.copy_from_slice(src);
        return;
    }
    for (d, s) in dst.chunks_mut(COPY_PIECE).zip(src.chunks(COPY_PIECE)) {
        d.copy_from_slice(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `writes` into a `(max_head, max_tail)` state and checks the
    /// retained bytes against the naive rule: first `max_head` bytes, then
    /// the newest `max_tail` of the rest.
    #[track_caller]
    fn check(max_head: usize, max_tail: usize, writes: &[&[u8]]) {
        let mut s = State::new(max_head, max_tail);
        let mut all = Vec::new();
        for w in writes {
            s.write(w);
            all.extend_from_slice(w);
        }
        let head_len = all.len().min(max_head);
        let tail_start = head_len.max(all.len().saturating_sub(max_tail));
        let mut want = all[..head_len].to_vec();
        want.extend_from_slice(&all[tail_start..]);
        assert_eq!(s.bytes(), want);
        assert_eq!(s.len(), want.len());
        assert_eq!(s.total(), all.len() as u64);
    }

    #[test]
    fn retains_head_and_newest_tail_bytes() {
        check(5, 10, &[b"abcde", b"fghij", b"ABCDEFGHIJ", b"KLMNO"]);
        check(3, 4, &[b"ab", b"cdefghijkl", b"m", b"nop"]);
        check(0, 4, &[b"abcdefgh", b"ij"]);
        check(4, 0, &[b"abcdefgh"]);
        check(2, 3, &[b"abc", b"def", b"g"]);
        // A write exactly as large as the ring, then one larger.
        check(1, 4, &[b"a", b"bcde", b"fghijk", b"l"]);
    }

    #[test]
    fn the_ring_is_allocated_once() {
        let mut s = State::new(2, 8);
        s.write(b"0123456789");
        let ptr = s.ring.as_ptr();
        for _ in 0..100 {
            s.write(b"abc");
        }
        s.write(&[b'x'; 100]);
        s.reset();
        s.write(b"0123456789");
        assert_eq!(s.ring.as_ptr(), ptr);
    }
}
