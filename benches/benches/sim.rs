//! Simulation throughput: seeds per second for each registered scenario and
//! the harness self-test (criterion reports elements/s = seeds/s, one
//! thread). Each iteration runs the next seed, so the figure averages over
//! the seed space as a sweep does. `sim/<scenario>` ids.

use std::hint::black_box;
use std::time::Duration;

use agent::BugSet;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use harness::seed::Seed;
use harness::{Scenario, runner};

fn scenarios() -> Vec<&'static dyn Scenario> {
    let mut all = scenarios::catalog::registered();
    all.extend(scenarios::catalog::selftests());
    all
}

fn seeds_per_second(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    for scenario in scenarios() {
        let bugs = BugSet::none();
        group.bench_function(scenario.name(), |b| {
            let mut seed = 0u64;
            b.iter(|| {
                seed += 1;
                black_box(runner::run(scenario, Seed(seed), &bugs).passed())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, seeds_per_second);
criterion_main!(benches);
