//! The performance gate's workloads, measured in instructions (callgrind,
//! through gungraun) rather than wall time: on a shared 2-core machine wall
//! times drift 10-20% from hour to hour, while the instruction count of the
//! same binary on the same input barely moves. `scripts/perf-gate` runs this
//! bench on the previous and the current commit and fails on a rise; see
//! `docs/perf.md`.
//!
//! The workloads are the criterion ones (same data, from `benches/src/lib.rs`):
//! head/tail W1-W4b, the edit matcher's exact hit, miss and near-miss, the
//! line reader, and one seed of two simulation scenarios. W5 (four writer
//! threads) is left out: under valgrind threads run one at a time, and the
//! count would measure the lock's spinning, which depends on scheduling.
//! Inputs are built in the bench arguments, which gungraun evaluates outside
//! the measured call. Run alone: `cargo bench -p benches --bench gate`
//! (needs valgrind and `gungraun-runner` of the same version as the crate).

use std::hint::black_box;

use agent::BugSet;
use agent::files::fuzzy::{Applied, MatchError, apply_edit};
use agent::files::lines::number_lines;
use agent::files::wire::{ReadFileLinesLimits, ReadFileLinesResponse};
use agent::headtail::{HeadTailBuffer, Truncation};
use benches::{
    MISSING, W1_LINE, W1_WRITES, W23_BYTES, after_w2, after_w3, near_miss, source, w2_chunk,
    w3_chunk, write_all,
};
use gungraun::prelude::*;
use gungraun::{Callgrind, LibraryBenchmarkConfig};
use harness::seed::Seed;
use harness::{Scenario, runner};

// A write workload from a fresh buffer, like a new process: the chunk and
// the total to write.
#[library_benchmark]
#[bench::w1(W1_LINE.to_vec(), W1_WRITES * W1_LINE.len())]
#[bench::w2(w2_chunk(), W23_BYTES)]
#[bench::w3(w3_chunk(), W23_BYTES)]
fn write(chunk: Vec<u8>, total: usize) -> HeadTailBuffer {
    let buf = HeadTailBuffer::new();
    write_all(&buf, &chunk, total);
    buf
}

// One snapshot (the renderer) of a full buffer.
#[library_benchmark]
#[bench::w4(after_w2())]
#[bench::w4b(after_w3())]
fn snapshot(buf: HeadTailBuffer) -> (String, Option<Truncation>) {
    black_box(buf.output())
}

library_benchmark_group!(name = headtail, benchmarks = [write, snapshot]);

/// `(content, search)` for an exact (pass 1) hit 90% of the way down the
/// 1 MiB source.
fn exact_hit() -> (String, String) {
    let (text, lines, at) = source();
    let search = lines[at..at + 2].join("\n");
    (text, search)
}

fn miss() -> (String, String) {
    (source().0, MISSING.to_string())
}

// The edit matcher alone.
#[library_benchmark]
#[bench::exact_hit(exact_hit())]
#[bench::miss(miss())]
#[bench::near_miss(near_miss())]
fn fuzzy(case: (String, String)) -> Result<Applied, MatchError> {
    let (content, search) = case;
    black_box(apply_edit(
        black_box(content.as_bytes()),
        black_box(&search),
        "REPLACED",
        false,
        usize::MAX,
    ))
}

// The line reader alone: 400 lines from the middle of the 1 MiB source
// (it counts every line of the file).
#[library_benchmark]
#[bench::middle(source().0)]
fn line_reader(text: String) -> ReadFileLinesResponse {
    let middle = (text.lines().count() / 2) as u64;
    let limits = ReadFileLinesLimits::default();
    black_box(number_lines(
        black_box(text.as_bytes()),
        text.len() as u64,
        middle,
        400,
        &limits,
    ))
}

library_benchmark_group!(name = files, benchmarks = [fuzzy, line_reader]);

/// The scenario named `name`; a renamed or removed scenario stops the gate
/// here, loudly, rather than measuring nothing.
fn scenario(name: &str) -> &'static dyn Scenario {
    match scenarios::catalog::lookup(name) {
        Some(s) => s,
        None => panic!("perf gate: no scenario {name:?} in the catalog"),
    }
}

// One seed of a scenario, start to finish (agent, simulated network and
// disk, checks).
#[library_benchmark]
#[bench::stale_output(scenario("stale-output"))]
#[bench::concurrent_edits(scenario("concurrent-edits"))]
fn sim_seed(scenario: &'static dyn Scenario) -> bool {
    black_box(runner::run(scenario, Seed(1), &BugSet::none()).passed())
}

library_benchmark_group!(name = sim, benchmarks = [sim_seed]);

main!(
    // Only instructions are gated: the cache simulation would slow valgrind
    // down for figures the gate does not use.
    config = LibraryBenchmarkConfig::default().tool(Callgrind::with_args(["--cache-sim=no"])),
    library_benchmark_groups = [headtail, files, sim]
);
