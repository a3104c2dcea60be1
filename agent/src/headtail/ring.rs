//! The buffer's state behind its one mutex: the head, the tail ring and the
//! byte count, and the write algorithm.
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
    /// Storage of the ring of the newest bytes past the head: empty until
    /// the first byte reaches it. The ring itself is the `max_tail` bytes
    /// from `ring_start`, the first 64-byte aligned address (see [`copy`]);
    /// the storage never grows again, so the address stays aligned.
    ring_storage: Vec<u8>,
    ring_start: usize,
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
            ring_storage: Vec::new(),
            ring_start: 0,
            ring_pos: 0,
            ring_full: false,
            total: 0,
        }
    }

    /// Appends `p` (non-empty): head first, the rest into the ring. A part
    /// larger than the ring copies only its last `max_tail` bytes, the only
    /// ones that can survive (B8 in `docs/races.md`).
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
        if self.ring_storage.is_empty() {
            self.ring_storage = vec![0; max + RING_ALIGN - 1];
            self.ring_start = self.ring_storage.as_ptr().align_offset(RING_ALIGN);
        }
        let pos = self.ring_pos;
        let ring = &mut self.ring_storage[self.ring_start..self.ring_start + max];
        if rest.len() >= max {
            // Whatever the ring held is overwritten: keep the last `max`
            // bytes, laid out unwrapped.
            copy(ring, &rest[rest.len() - max..]);
            self.ring_pos = 0;
            self.ring_full = true;
            return;
        }
        let first = (max - pos).min(rest.len());
        copy(&mut ring[pos..pos + first], &rest[..first]);
        let second = rest.len() - first;
        if second > 0 {
            copy(&mut ring[..second], &rest[first..]);
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

    /// The ring's bytes in storage order (empty until allocated).
    fn ring(&self) -> &[u8] {
        if self.ring_storage.is_empty() {
            return &[];
        }
        &self.ring_storage[self.ring_start..self.ring_start + self.max_tail]
    }

    pub(super) fn view(&self) -> View<'_> {
        let ring = self.ring();
        let tail = if self.ring_full {
            [&ring[self.ring_pos..], &ring[..self.ring_pos]]
        } else {
            [&ring[..self.ring_pos], &[][..]]
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

/// `dst.copy_from_slice(src)`, tuned for the ring's copies of 256 bytes to
/// 16 KiB: the copy is the whole cost of a large write.
///
/// Measured on this project's machines (AMD EPYC, Zen 3), where a 32-byte
/// store per cycle is the ceiling (4 KiB of stores alone: ~41 ns):
/// * glibc's `memcpy` (what `copy_from_slice` calls) uses `rep movsb` from
///   4 KiB on: ~50-67 ns for 4 KiB, and ~30x slower when the destination
///   sits just above the source modulo 4 KiB.
/// * A loop of 128-byte block copies compiled for AVX2 (chosen at run time
///   by `multiversion`) avoids both, but run *forwards* into the ring it
///   still took ~54 ns per 4 KiB for most source addresses.
/// * The same loop run *backwards* takes ~42 ns for 4 KiB and ~168 ns for
///   16 KiB at almost every relative alignment: within a few percent of the
///   stores-only ceiling.
///
/// The block boundaries are put on 32-byte destination addresses, since a
/// store that straddles two cache lines costs two.
/// Alignment of the ring's first byte: a cache line, so writes of whole
/// 4 KiB pages (benchmark workload W2) or of the whole ring (W3) are copied
/// in aligned blocks with no unaligned bytes left over at either end.
const RING_ALIGN: usize = 64;

#[inline]
fn copy(dst: &mut [u8], src: &[u8]) {
    if src.len() < 256 {
        dst.copy_from_slice(src);
    } else {
        copy_blocks_backwards(dst, src);
    }
}

#[multiversion::multiversion(targets("x86_64+avx2"))]
fn copy_blocks_backwards(dst: &mut [u8], src: &[u8]) {
    const BLOCK: usize = 128;
    // The last bytes, up to a 32-byte aligned end, first (`len >= 256`).
    let end = dst.as_ptr() as usize + dst.len();
    let cut = dst.len() - end % 32;
    let (dst, dst_last) = dst.split_at_mut(cut);
    let (src, src_last) = src.split_at(cut);
    copy_small(dst_last, src_last);
    let mut d = dst.rchunks_exact_mut(BLOCK);
    let mut s = src.rchunks_exact(BLOCK);
    for (d, s) in (&mut d).zip(&mut s) {
        d.copy_from_slice(s);
    }
    copy_small(d.into_remainder(), s.remainder());
}

/// The pieces around the blocks: often empty (an aligned 4 KiB write has
/// none), and `copy_from_slice` would still call `memcpy` for zero bytes.
#[inline(always)]
fn copy_small(dst: &mut [u8], src: &[u8]) {
    if !src.is_empty() {
        dst.copy_from_slice(src);
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

    /// `copy` against `copy_from_slice` at every destination alignment and
    /// around every block boundary, on both sides of the small-copy cut.
    #[test]
    fn copy_matches_copy_from_slice_at_every_alignment_and_length() {
        let src: Vec<u8> = (0..2100u32).map(|i| (i * 7 + i / 251) as u8).collect();
        for len in (0..300).chain(380..400).chain([1000, 1024, 2047]) {
            for dst_off in 0..64 {
                for src_off in [0, 1, 31] {
                    let mut got = vec![0xAAu8; len + 128];
                    let mut want = got.clone();
                    let from = &src[src_off..src_off + len];
                    copy(&mut got[dst_off..dst_off + len], from);
                    want[dst_off..dst_off + len].copy_from_slice(from);
                    assert_eq!(got, want, "len {len}, dst_off {dst_off}, src_off {src_off}");
                }
            }
        }
    }

    #[test]
    fn the_ring_is_allocated_once() {
        let mut s = State::new(2, 8);
        s.write(b"0123456789");
        let ptr = s.ring().as_ptr();
        assert_eq!(ptr.align_offset(RING_ALIGN), 0);
        for _ in 0..100 {
            s.write(b"abc");
        }
        s.write(&[b'x'; 100]);
        s.reset();
        s.write(b"0123456789");
        assert_eq!(s.ring().as_ptr(), ptr);
    }
}
