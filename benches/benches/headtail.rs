//! Head/tail buffer workloads W1-W5 (`docs/design.md#benchmarks`), the same
//! definitions as the Go reference measurement:
//!
//! * W1: 1,048,576 writes of a 16-byte newline-terminated line (16 MiB).
//! * W2: 64 MiB in 4 KiB chunks of 80-byte lines.
//! * W3: 64 MiB in 64 KiB chunks with no newline.
//! * W4: one snapshot (`output()`) of a full buffer after the W2 data.
//! * W4b: one snapshot after the W3 data.
//! * W5: four threads writing 16 MiB each of W2 chunks into one buffer.
//!
//! Write workloads report bytes/s (`Throughput::Bytes`); snapshots report
//! time per snapshot (and snapshots/s). Each write iteration starts from a fresh buffer, like
//! a new process. Run: `cargo bench -p benches --bench headtail`.
//!
//! The `ceiling` group measures, in the same run, the least work W2 and W3
//! can do on this machine: only *storing* the bytes that a write must keep
//! (every 4 KiB of W2; the last 16 KiB of each 64 KiB W3 write), with no
//! loads and no lock, at one 32-byte store per instruction;
//! `W2-stores-locked` adds an uncontended lock around each 4 KiB, to show
//! what the lock alone costs, and `W5-stores-locked` has four threads do
//! W5's stores behind one shared lock, to show what the convoy alone costs.
//! The machine's
//! speed varies from hour to hour on a shared host, so compare W2/W3 with
//! `ceiling/W2-stores`/`ceiling/W3-stores` of the same run, not with last
//! week's figures.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use agent::headtail::HeadTailBuffer;
use benches::{
    MIB, W1_LINE, W1_WRITES, W23_BYTES, after_w2, after_w3, w2_chunk, w3_chunk, write_all,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn headtail(c: &mut Criterion) {
    let mut g = c.benchmark_group("headtail");

    let line = W1_LINE;
    let w1_writes = W1_WRITES;
    g.throughput(Throughput::Bytes((w1_writes * line.len()) as u64));
    g.bench_function("W1", |b| {
        b.iter(|| {
            let buf = HeadTailBuffer::new();
            write_all(&buf, line, w1_writes * line.len());
            buf
        })
    });

    let w2 = w2_chunk();
    g.throughput(Throughput::Bytes(64 * MIB as u64));
    g.bench_function("W2", |b| {
        b.iter(|| {
            let buf = HeadTailBuffer::new();
            write_all(&buf, &w2, W23_BYTES);
            buf
        })
    });

    let w3 = w3_chunk();
    g.throughput(Throughput::Bytes(64 * MIB as u64));
    g.bench_function("W3", |b| {
        b.iter(|| {
            let buf = HeadTailBuffer::new();
            write_all(&buf, &w3, W23_BYTES);
            buf
        })
    });

    let after_w2 = after_w2();
    let after_w3 = after_w3();
    // Snapshots: the rate is snapshots per second.
    g.throughput(Throughput::Elements(1));
    g.bench_function("W4", |b| b.iter(|| after_w2.output()));
    g.bench_function("W4b", |b| b.iter(|| after_w3.output()));

    g.throughput(Throughput::Bytes(4 * 16 * MIB as u64));
    // ~1 ms per iteration: 100 samples need more than the default 5 s.
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("W5", |b| b.iter_custom(|iters| w5(iters, &w2)));
    g.finish();
}

/// W5 on four long-lived writer threads (spawning threads per iteration
/// would add ~100 us to a ~1 ms iteration): each iteration releases them on
/// a barrier, they write 16 MiB each into one fresh buffer, and the clock
/// stops when the last one is done.
fn w5(iters: u64, chunk: &[u8]) -> Duration {
    let slot: std::sync::Mutex<Arc<HeadTailBuffer>> =
        std::sync::Mutex::new(Arc::new(HeadTailBuffer::new()));
    four_writers(
        iters,
        || *slot.lock().expect("slot") = Arc::new(HeadTailBuffer::new()),
        || {
            let buf = Arc::clone(&slot.lock().expect("slot"));
            write_all(&buf, chunk, 16 * MIB);
        },
    )
}

/// Runs `write` on four long-lived threads per iteration (after `reset` on
/// the timing thread) and returns the time from release to the last one
/// finishing.
fn four_writers(iters: u64, mut reset: impl FnMut(), write: impl Fn() + Sync) -> Duration {
    const WRITERS: usize = 4;
    let start = Barrier::new(WRITERS + 1);
    let done = Barrier::new(WRITERS + 1);
    let mut elapsed = Duration::ZERO;
    std::thread::scope(|s| {
        for _ in 0..WRITERS {
            s.spawn(|| {
                for _ in 0..iters {
                    start.wait();
                    write();
                    done.wait();
                }
            });
        }
        for _ in 0..iters {
            reset();
            let t = Instant::now();
            start.wait();
            done.wait();
            elapsed += t.elapsed();
        }
    });
    elapsed
}

/// Stores `dst.len()` bytes (a multiple of 128) and nothing else: 32-byte
/// stores of a constant block, the fastest way to fill L1-resident memory
/// on this machine (glibc's `memset` takes 50% longer for 4 KiB here).
#[multiversion::multiversion(targets("x86_64+avx2"))]
fn store_only(dst: &mut [u8]) {
    let block = [b'x'; 128];
    for d in dst.chunks_exact_mut(128) {
        d.copy_from_slice(&block);
    }
}

/// A 16 KiB region starting on a cache line, like the buffer's ring.
fn aligned_ring() -> (Vec<u8>, usize) {
    let storage = vec![0u8; 16 * 1024 + 63];
    let start = storage.as_ptr().align_offset(64);
    (storage, start)
}

fn ceiling(c: &mut Criterion) {
    let mut g = c.benchmark_group("ceiling");
    g.throughput(Throughput::Bytes(64 * MIB as u64));
    let (mut storage, start) = aligned_ring();
    let ring = &mut storage[start..start + 16 * 1024];
    // W2: every 4 KiB write is kept, placed round the ring.
    g.bench_function("W2-stores", |b| {
        b.iter(|| {
            for i in 0..64 * MIB / 4096 {
                let at = (i % 4) * 4096;
                store_only(black_box(&mut ring[at..at + 4096]));
            }
        })
    });
    // W2's stores with an uncontended lock taken and released around each
    // 4 KiB, like every write: the gap between this and `W2-stores` is what
    // the lock alone costs (its two atomic read-modify-writes each wait for
    // the store buffer to drain).
    let lock = parking_lot::Mutex::new(());
    g.bench_function("W2-stores-locked", |b| {
        b.iter(|| {
            for i in 0..64 * MIB / 4096 {
                let at = (i % 4) * 4096;
                let _guard = black_box(&lock).lock();
                store_only(black_box(&mut ring[at..at + 4096]));
            }
        })
    });
    // W3: each 64 KiB write keeps only its last 16 KiB, the whole ring.
    g.bench_function("W3-stores", |b| {
        b.iter(|| {
            for _ in 0..64 * MIB / (64 * 1024) {
                store_only(black_box(&mut *ring));
            }
        })
    });
    // W5's least work: four threads storing 16 MiB each in 4 KiB pieces
    // into one 16 KiB ring behind one lock, as W5's writers do, with no
    // loads and no line scanning. What W5 loses against W2 beyond what
    // this loses against `W2-stores-locked` is the buffer's own doing; the
    // rest is four threads convoying on one lock over two cores.
    let shared = parking_lot::Mutex::new(aligned_ring());
    g.throughput(Throughput::Bytes(4 * 16 * MIB as u64));
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("W5-stores-locked", |b| {
        b.iter_custom(|iters| {
            four_writers(
                iters,
                || {},
                || {
                    for i in 0..16 * MIB / 4096 {
                        let at = (i % 4) * 4096;
                        let mut guard = shared.lock();
                        let (storage, start) = &mut *guard;
                        let at = *start + at;
                        store_only(black_box(&mut storage[at..at + 4096]));
                    }
                },
            )
        })
    });
    g.finish();
}

criterion_group!(benches, headtail, ceiling);
criterion_main!(benches);
