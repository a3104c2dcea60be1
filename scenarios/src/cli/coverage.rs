//! Rendering yield-point coverage for `run` and `sweep`.

use harness::catalog::YIELD_POINTS;
use harness::sched::Coverage;

/// Hit counts per point (every point seen, plus the catalog's), then the
/// catalog's points never hit, then the bug branches taken.
pub fn render(coverage: &Coverage) -> String {
    let mut out = String::from("yield points:\n");
    let mut names: Vec<&str> = YIELD_POINTS.to_vec();
    names.extend(coverage.yield_hits.keys().map(String::as_str));
    names.sort_unstable();
    names.dedup();
    let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
    for name in &names {
        let hits = coverage.yield_hits.get(*name).copied().unwrap_or(0);
        out.push_str(&format!("  {name:<width$}  {hits}\n"));
    }
    let never = coverage.never_hit(YIELD_POINTS);
    if never.is_empty() {
        out.push_str("never hit: none\n");
    } else {
        out.push_str(&format!("never hit: {}\n", never.join(", ")));
    }
    if !coverage.bugs_taken.is_empty() {
        let taken: Vec<String> = coverage
            .bugs_taken
            .iter()
            .map(|(b, n)| format!("{b} x{n}"))
            .collect();
        out.push_str(&format!("bug branches taken: {}\n", taken.join(", ")));
    }
    out
}
