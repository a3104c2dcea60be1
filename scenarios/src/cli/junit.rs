//! JUnit XML for `sweep --junit`: one test suite per scenario, one test
//! case per seed, the failure report as the failure body.

use std::fmt::Write as _;
use std::time::Duration;

use harness::sweep::SeedResult;

/// One scenario's results.
pub struct Suite<'a> {
    pub name: &'a str,
    pub results: &'a [SeedResult],
    pub wall: Duration,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Renders the whole report.
pub fn render(suites: &[Suite<'_>]) -> String {
    let tests: usize = suites.iter().map(|s| s.results.len()).sum();
    let failures: usize = suites
        .iter()
        .map(|s| s.results.iter().filter(|r| r.failure.is_some()).count())
        .sum();
    let time: f64 = suites.iter().map(|s| s.wall.as_secs_f64()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"agentsim\" tests=\"{tests}\" failures=\"{failures}\" time=\"{time:.3}\">"
    );
    for suite in suites {
        let name = escape(suite.name);
        let failed = suite.results.iter().filter(|r| r.failure.is_some()).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failed}\" time=\"{:.3}\">",
            suite.results.len(),
            suite.wall.as_secs_f64()
        );
        for r in suite.results {
            let _ = write!(
                out,
                "    <testcase classname=\"{name}\" name=\"seed {}\" time=\"{:.3}\"",
                r.seed,
                r.wall.as_secs_f64()
            );
            match &r.failure {
                None => out.push_str("/>\n"),
                Some(f) => {
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                        escape(&f.headline()),
                        escape(&r.report)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness::runner::Failure;
    use harness::sched::Coverage;
    use harness::seed::Seed;

    fn result(seed: u64, failure: Option<Failure>) -> SeedResult {
        SeedResult {
            seed: Seed(seed),
            report: if failure.is_some() {
                "FAIL <x> & \"y\"\n".into()
            } else {
                String::new()
            },
            failure,
            trace_hash: 0,
            coverage: Coverage::default(),
            wall: Duration::from_millis(2),
        }
    }

    #[test]
    fn a_report_has_a_case_per_seed_and_escapes_failure_text() {
        let results = [
            result(0, None),
            result(1, Some(Failure::Panic("a<b".into()))),
        ];
        let xml = render(&[Suite {
            name: "s",
            results: &results,
            wall: Duration::from_millis(4),
        }]);
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <testsuites name=\"agentsim\" tests=\"2\" failures=\"1\" time=\"0.004\">\n  \
             <testsuite name=\"s\" tests=\"2\" failures=\"1\" time=\"0.004\">\n    \
             <testcase classname=\"s\" name=\"seed 0\" time=\"0.002\"/>\n    \
             <testcase classname=\"s\" name=\"seed 1\" time=\"0.002\">\n      \
             <failure message=\"panic: a&lt;b\">FAIL &lt;x&gt; &amp; &quot;y&quot;\n</failure>\n    \
             </testcase>\n  \
             </testsuite>\n\
             </testsuites>\n"
        );
    }
}
