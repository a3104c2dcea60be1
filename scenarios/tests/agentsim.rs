//! The `agentsim` binary's contract (`docs/design.md#cli`): subcommands,
//! output shapes and exit codes (0 pass, 1 failure, 2 bad usage).

use assert_cmd::Command;
use predicates::prelude::*;

/// The first seed at which the harness self-test catches
/// `stale-output-read`, found through the library, so these tests check the
/// CLI against the runner rather than against a remembered number.
fn first_selftest_failure() -> u64 {
    use std::sync::OnceLock;
    static FIRST: OnceLock<u64> = OnceLock::new();
    *FIRST.get_or_init(|| {
        harness::testkit::check_catches(
            &harness::selftest::HarnessSelfTest,
            agent::Bug::StaleOutputRead,
            64,
        )
        .0
    })
}

fn agentsim(args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("agentsim")
        .expect("the agentsim binary is built")
        .args(args)
        .assert()
}

#[test]
fn help_documents_every_subcommand() {
    let out = agentsim(&["--help"]).success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    for sub in ["list", "bugs", "tools", "run", "sweep"] {
        assert!(text.contains(&format!("\n  {sub} ")), "{sub}: {text}");
    }
    agentsim(&["sweep", "--help"]).success().stdout(
        predicate::str::contains("--shard <K/N>").and(predicate::str::contains("--junit <FILE>")),
    );
}

#[test]
fn list_prints_one_tab_separated_line_per_registered_scenario() {
    let expected: String = scenarios::catalog::registered()
        .iter()
        .map(|s| format!("{}\t{}\n", s.name(), s.summary()))
        .collect();
    agentsim(&["list"]).success().stdout(expected);
}

#[test]
fn bugs_lists_every_switch_with_the_scenarios_that_catch_it() {
    let out = agentsim(&["bugs"]).success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let names: Vec<&str> = text.lines().filter_map(|l| l.split('\t').next()).collect();
    let all: Vec<&str> = agent::Bug::ALL.iter().map(|b| b.name()).collect();
    assert_eq!(names, all);
    assert!(text.lines().all(|l| l.split('\t').count() == 2), "{text}");
}

#[test]
fn tools_prints_the_chat_tool_registry_as_json() {
    let out = agentsim(&["tools"]).success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert_eq!(text, format!("{}\n", chat_tools::registry_json()));
    let tools: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let names: Vec<&str> = tools
        .as_array()
        .expect("an array of tools")
        .iter()
        .map(|t| t["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(
        names,
        [
            "execute",
            "process_output",
            "process_list",
            "process_signal",
            "read_file",
            "edit_files",
            "write_file"
        ]
    );
    for tool in tools.as_array().unwrap() {
        assert!(
            !tool["description"].as_str().unwrap_or("").is_empty(),
            "{tool}"
        );
        assert_eq!(tool["parameters"]["type"], "object", "{tool}");
    }
}

#[test]
fn a_passing_seed_exits_zero_and_can_check_determinism() {
    agentsim(&[
        "run",
        "harness-selftest",
        "--seed",
        "3",
        "--check-determinism",
    ])
    .success()
    .stdout(
        predicate::str::contains("PASS harness-selftest seed 3")
            .and(predicate::str::contains("deterministic: trace hash"))
            .and(predicate::str::contains("selftest.output.between_reads")),
    );
}

#[test]
fn a_violation_exits_one_with_the_report_and_repro_command() {
    let first = first_selftest_failure();
    let hex = format!("{first:#x}");
    agentsim(&["run", "harness-selftest", "--seed", &hex, "--bug", "stale-output-read"])
        .code(1)
        .stdout(
            predicate::str::contains("invariant violated: final-output-complete")
                .and(predicate::str::contains("last 40 events:"))
                .and(predicate::str::ends_with(format!(
                    "repro: cargo run --release --bin agentsim -- run harness-selftest --seed {first} --bug stale-output-read\n",
                ))),
        );
}

#[test]
fn run_writes_the_trace_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trace.jsonl");
    agentsim(&[
        "run",
        "harness-selftest",
        "--seed",
        "1",
        "--trace",
        path.to_str().unwrap(),
    ])
    .success();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.lines().count() > 10, "{text}");
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            v["t_ns"].is_u64() && v["host"].is_string() && v["kind"].is_string(),
            "{line}"
        );
    }
}

#[test]
fn bad_usage_exits_two_with_a_clear_error() {
    let known: Vec<&str> = scenarios::catalog::all().iter().map(|s| s.name()).collect();
    agentsim(&["run", "no-such-scenario", "--seed", "1"])
        .code(2)
        .stderr(format!(
            "agentsim: error: unknown scenario \"no-such-scenario\" (known: {})\n",
            known.join(", ")
        ));
    agentsim(&["run", "harness-selftest", "--seed", "12x"])
        .code(2)
        .stderr(predicate::str::contains("invalid seed \"12x\""));
    agentsim(&["run", "harness-selftest", "--seed", "1", "--bug", "nope"])
        .code(2)
        .stderr(predicate::str::contains("unknown bug switch \"nope\""));
    agentsim(&["run", "harness-selftest"]).code(2);
    agentsim(&["sweep", "--seeds", "9..3"]).code(2);
    agentsim(&["sweep", "--shard", "5/4"]).code(2);
    agentsim(&["sweep", "--jobs", "0"]).code(2);
    agentsim(&["sweep", "nope"])
        .code(2)
        .stderr(predicate::str::contains("unknown scenario"));
}

#[test]
fn a_bare_sweep_covers_the_registered_catalog() {
    let n = scenarios::catalog::registered().len();
    let out = agentsim(&["sweep", "--seeds", "0..2"]);
    out.success()
        .stderr(predicate::str::contains(format!(
            "sweep: {n} scenarios x 2 seeds"
        )))
        .stdout(predicate::str::contains(format!("total: {n} scenarios")));
}

#[test]
fn a_failing_sweep_exits_one_with_a_table_and_one_repro_line() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let out = agentsim(&[
        "sweep",
        "harness-selftest",
        "--seeds",
        "0..64",
        "--jobs",
        "2",
        "--bug",
        "stale-output-read",
        "--junit",
        junit.to_str().unwrap(),
    ])
    .code(1);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let repro: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("repro: "))
        .collect();
    let first = first_selftest_failure();
    assert_eq!(
        repro,
        [format!(
            "repro: cargo run --release --bin agentsim -- run harness-selftest --seed {first} --bug stale-output-read"
        )]
    );
    let row = stdout
        .lines()
        .find(|l| l.starts_with("harness-selftest "))
        .expect("a table row");
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        (cols[1], cols[3]),
        ("64", first.to_string().as_str()),
        "{row}"
    );
    assert!(stdout.contains("first failing seed"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(&format!(
            "<testcase classname=\"harness-selftest\" name=\"seed {first}\""
        )),
        "{xml}"
    );
}

#[test]
fn shards_split_the_seed_range() {
    let rows: Vec<String> = ["1/2", "2/2"]
        .iter()
        .map(|shard| {
            let out = agentsim(&[
                "sweep",
                "harness-selftest",
                "--seeds",
                "0..10",
                "--shard",
                shard,
            ])
            .success();
            let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
            stdout
                .lines()
                .find(|l| l.starts_with("harness-selftest "))
                .unwrap()
                .to_string()
        })
        .collect();
    for row in rows {
        assert_eq!(row.split_whitespace().nth(1), Some("5"), "{row}");
    }
}

#[test]
fn fail_fast_stops_after_the_first_failure() {
    let out = agentsim(&[
        "sweep",
        "harness-selftest",
        "--seeds",
        "0..1000",
        "--jobs",
        "1",
        "--bug",
        "stale-output-read",
        "--fail-fast",
    ])
    .code(1);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let row = stdout
        .lines()
        .find(|l| l.starts_with("harness-selftest "))
        .unwrap();
    let ran = (first_selftest_failure() + 1).to_string();
    assert_eq!(row.split_whitespace().nth(1), Some(ran.as_str()), "{row}");
}
