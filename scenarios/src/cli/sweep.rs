//! `agentsim sweep`: many seeds of many scenarios, a progress display, the
//! summary table, coverage, repro lines and an optional JUnit report.
//!
//! Scenarios run one after another, each over all its seeds in parallel,
//! so the seeds/s column is the wall-clock throughput of that scenario
//! alone. "distinct runs" counts different trace hashes: a scenario whose
//! seeds all produce the same run explores nothing
//! (`docs/design.md#simulation-setup`).

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use agent::BugSet;
use harness::Scenario;
use harness::runner::Repro;
use harness::sched::Coverage;
use harness::seed::{Seed, SeedRange, Shard};
use harness::sweep::{SeedResult, SweepSpec};
use indicatif::{ProgressBar, ProgressStyle};

use super::{EXIT_FAILED, UsageError, coverage, junit};

/// What to sweep.
pub struct Plan {
    pub scenarios: Vec<&'static dyn Scenario>,
    pub seeds: SeedRange,
    pub shard: Shard,
    pub jobs: usize,
    pub bugs: BugSet,
    pub junit: Option<PathBuf>,
    pub fail_fast: bool,
}

/// One scenario's results.
struct Row {
    name: &'static str,
    results: Vec<SeedResult>,
    wall: Duration,
}

impl Row {
    fn failures(&self) -> impl Iterator<Item = &SeedResult> {
        self.results.iter().filter(|r| r.failure.is_some())
    }

    fn seeds_per_sec(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 {
            self.results.len() as f64 / secs
        } else {
            0.0
        }
    }

    fn distinct(&self) -> usize {
        self.results
            .iter()
            .map(|r| r.trace_hash)
            .collect::<BTreeSet<_>>()
            .len()
    }
}

/// How many FAIL lines a sweep prints per scenario; the rest are counted.
const MAX_FAIL_LINES: usize = 10;
/// How often plain progress lines are printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// A progress bar on a terminal, plain lines otherwise (both on stderr):
/// the first [`MAX_FAIL_LINES`] failures of each scenario and, every
/// [`PROGRESS_EVERY`], a line with the count so far.
enum Progress {
    Bar(ProgressBar),
    Plain(std::cell::RefCell<Plain>),
}

/// The state of plain progress output.
struct Plain {
    last: Instant,
    done: u64,
    total: u64,
}

impl Progress {
    fn new(total: u64) -> Self {
        if !std::io::stderr().is_terminal() || !std::io::stdout().is_terminal() {
            return Progress::Plain(std::cell::RefCell::new(Plain {
                last: Instant::now(),
                done: 0,
                total,
            }));
        }
        let bar = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:24} [{bar:30}] {pos}/{len} seeds  {per_sec}  eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress::Bar(bar)
    }

    fn line(&self, text: &str) {
        match self {
            Progress::Bar(bar) => bar.println(text),
            Progress::Plain(_) => eprintln!("{text}"),
        }
    }

    fn start(&self, name: &'static str) {
        if let Progress::Bar(bar) = self {
            bar.set_message(name);
        }
    }

    /// One seed's result; `failures_so_far` counts this scenario's
    /// failures including this one.
    fn result(&self, name: &str, r: &SeedResult, failures_so_far: usize) {
        match self {
            Progress::Bar(bar) => bar.inc(1),
            Progress::Plain(plain) => {
                let mut plain = plain.borrow_mut();
                plain.done += 1;
                if plain.last.elapsed() >= PROGRESS_EVERY {
                    plain.last = Instant::now();
                    eprintln!(
                        "progress: {}/{} runs ({name} at seed {})",
                        plain.done, plain.total, r.seed
                    );
                }
            }
        }
        if let Some(f) = &r.failure
            && failures_so_far <= MAX_FAIL_LINES
        {
            self.line(&format!("FAIL {name} seed {}: {}", r.seed, f.headline()));
        }
    }

    fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

fn table(rows: &[Row]) -> String {
    let width = rows
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0)
        .max("scenario".len());
    let mut out = format!(
        "{:<width$}  {:>6}  {:>8}  {:>18}  {:>8}  {:>13}\n",
        "scenario", "seeds", "failures", "first failing seed", "seeds/s", "distinct runs"
    );
    for row in rows {
        let first = row
            .failures()
            .next()
            .map(|r| r.seed.to_string())
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:<width$}  {:>6}  {:>8}  {:>18}  {:>8.1}  {:>13}\n",
            row.name,
            row.results.len(),
            row.failures().count(),
            first,
            row.seeds_per_sec(),
            row.distinct()
        ));
    }
    out
}

pub fn sweep(plan: Plan) -> Result<ExitCode, UsageError> {
    let seeds: Vec<Seed> = plan.seeds.seeds(plan.shard).collect();
    let bugs: Vec<&str> = plan.bugs.iter().map(|b| b.name()).collect();
    eprintln!(
        "sweep: {} scenarios x {} seeds (range {}, shard {}) on {} threads{}",
        plan.scenarios.len(),
        seeds.len(),
        plan.seeds,
        plan.shard,
        plan.jobs,
        if bugs.is_empty() {
            String::new()
        } else {
            format!(", bugs: {}", bugs.join(", "))
        }
    );
    let progress = Progress::new((seeds.len() * plan.scenarios.len()) as u64);
    let stop = AtomicBool::new(false);
    let mut rows = Vec::new();
    let mut covered = Coverage::default();
    for scenario in &plan.scenarios {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        progress.start(scenario.name());
        let spec = SweepSpec {
            scenario: *scenario,
            seeds: seeds.clone(),
            bugs: plan.bugs.clone(),
            jobs: plan.jobs,
            stop: &stop,
            fail_fast: plan.fail_fast,
        };
        let started = Instant::now();
        let mut failed = 0;
        let results = harness::sweep::sweep(&spec, |r| {
            failed += usize::from(r.failure.is_some());
            progress.result(scenario.name(), r, failed);
        });
        if failed > MAX_FAIL_LINES {
            progress.line(&format!(
                "... and {} more failing seeds of {}",
                failed - MAX_FAIL_LINES,
                scenario.name()
            ));
        }
        let row = Row {
            name: scenario.name(),
            results,
            wall: started.elapsed(),
        };
        for r in &row.results {
            covered.merge(&r.coverage);
        }
        progress.line(&format!(
            "{}: {} seeds, {} failed, {:.1} seeds/s",
            row.name,
            row.results.len(),
            row.failures().count(),
            row.seeds_per_sec()
        ));
        rows.push(row);
    }
    progress.finish();

    if let Some(path) = &plan.junit {
        let suites: Vec<junit::Suite<'_>> = rows
            .iter()
            .map(|r| junit::Suite {
                name: r.name,
                results: &r.results,
                wall: r.wall,
            })
            .collect();
        std::fs::write(path, junit::render(&suites)).map_err(|e| UsageError::Output {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    }

    for row in &rows {
        if let Some(first) = row.failures().next() {
            println!("first failure of {}:", row.name);
            for line in first.report.lines().filter(|l| !l.starts_with("repro:")) {
                println!("{line}");
            }
            println!();
        }
    }
    if !rows.is_empty() {
        print!("{}", coverage::render(&covered));
    }
    print!("{}", table(&rows));
    let runs: usize = rows.iter().map(|r| r.results.len()).sum();
    let failures: usize = rows.iter().map(|r| r.failures().count()).sum();
    println!(
        "total: {} scenarios, {runs} runs, {failures} failed",
        rows.len()
    );
    let mut failed = false;
    for row in &rows {
        if let Some(first) = row.failures().next() {
            failed = true;
            let repro = Repro {
                scenario: row.name.to_string(),
                seed: first.seed,
                bugs: plan.bugs.clone(),
                schedule: None,
            };
            println!("repro: {repro}");
        }
    }
    Ok(if failed {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
