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
    let names: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("  "))
        .filter_map(|l| l.split('\t').next())
        .collect();
    let all: Vec<&str> = agent::Bug::ALL.iter().map(|b| b.name()).collect();
    assert_eq!(names, all);
    let switch_lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("  ")).collect();
    assert!(
        switch_lines.iter().all(|l| l.split('\t').count() == 2),
        "{text}"
    );
    for bug in agent::Bug::ALL {
        assert!(
            text.contains(&format!("\n  {}\n", bug.summary())),
            "{bug}: {text}"
        );
    }
    let catchers = scenarios::catalog::registered()
        .iter()
        .flat_map(|s| s.catches().iter().map(move |c| (s.name(), c.within)))
        .count();
    assert_eq!(text.matches("  caught by ").count(), catchers, "{text}");
    assert!(
        text.contains("  caught by stale-output within 64 seeds\n"),
        "{text}"
    );
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
                .and(
                    predicate::str::contains("last 40 events:")
                        .or(predicate::str::contains("tasks involved: ")),
                )
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
        .stderr(predicate::str::contains("\"12x\" is not a seed"));
    agentsim(&["run", "harness-selftest", "--seed", "-1"])
        .code(2)
        .stderr(predicate::str::contains(
            "\"-1\" is not a seed: seeds are unsigned 64-bit integers",
        ));
    agentsim(&["sweep", "--seeds", "5..5"])
        .code(2)
        .stderr(predicate::str::contains("\"5..5\" contains no seed"));
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

/// Runs `args` in `dir` (so bare file names land there).
fn agentsim_in(dir: &std::path::Path, args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("agentsim")
        .expect("the agentsim binary is built")
        .current_dir(dir)
        .args(args)
        .assert()
}

#[test]
fn a_bare_trace_file_name_is_written_in_the_current_directory_and_is_byte_identical_twice() {
    let dir = tempfile::tempdir().unwrap();
    let traces: Vec<Vec<u8>> = ["a.jsonl", "b.jsonl"]
        .iter()
        .map(|name| {
            agentsim_in(
                dir.path(),
                &["run", "stale-output", "--seed", "5", "--trace", name],
            )
            .success();
            std::fs::read(dir.path().join(name)).unwrap()
        })
        .collect();
    assert!(traces[0].len() > 1000);
    assert!(
        traces[0] == traces[1],
        "the same seed gave different traces"
    );
    let text = String::from_utf8(traces[0].clone()).unwrap();
    assert!(
        text.contains("\"task\":\"req1\",\"kind\":\"http.request\""),
        "{text}"
    );
}

#[test]
fn an_unwritable_junit_path_fails_before_the_sweep_starts() {
    agentsim(&[
        "sweep",
        "--seeds",
        "0..1000",
        "--junit",
        "/nonexistent-dir/junit.xml",
    ])
    .code(2)
    .stderr(
        predicate::str::starts_with("agentsim: error: cannot write /nonexistent-dir/junit.xml")
            .and(predicate::str::contains("sweep:").not()),
    );
}

#[test]
fn a_sweep_prints_at_most_ten_fail_lines_per_scenario_and_counts_the_rest() {
    let out = agentsim(&[
        "sweep",
        "harness-selftest",
        "--seeds",
        "0..300",
        "--bug",
        "stale-output-read",
    ])
    .code(1);
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    let fails = stderr.lines().filter(|l| l.starts_with("FAIL ")).count();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let row = stdout
        .lines()
        .find(|l| l.starts_with("harness-selftest "))
        .unwrap();
    let failed: usize = row.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!(failed > 10, "the check needs more than 10 failures: {row}");
    assert_eq!(fails, 10, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "... and {} more failing seeds of harness-selftest",
            failed - 10
        )),
        "{stderr}"
    );
}

/// The first seed at which `stale-output` catches `stale-output-read`.
fn first_stale_output_failure() -> u64 {
    harness::testkit::check_catches(
        &scenarios::stale_output::STALE_OUTPUT,
        agent::Bug::StaleOutputRead,
        64,
    )
    .0
}

#[test]
fn shrink_writes_a_schedule_that_run_replays_and_html_draws_it() {
    let seed = first_stale_output_failure().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = agentsim_in(
        dir.path(),
        &[
            "shrink",
            "stale-output",
            "--seed",
            &seed,
            "--bug",
            "stale-output-read",
            "--out",
            "s.schedule",
            "--html",
            "s.html",
        ],
    )
    .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("invariant violated: finished-answer-is-final"),
        "{stdout}"
    );
    let replay = format!(
        "replay: cargo run --release --bin agentsim -- run stale-output --seed {seed} --bug stale-output-read --schedule s.schedule\n"
    );
    assert!(stdout.ends_with(&replay), "{stdout}");
    let schedule = std::fs::read_to_string(dir.path().join("s.schedule")).unwrap();
    let decisions = schedule.lines().filter(|l| !l.starts_with('#')).count();
    assert!((1..=5).contains(&decisions), "{schedule}");

    agentsim_in(
        dir.path(),
        &[
            "run",
            "stale-output",
            "--seed",
            &seed,
            "--bug",
            "stale-output-read",
            "--schedule",
            "s.schedule",
        ],
    )
    .code(1)
    .stdout(
        predicate::str::contains("invariant violated: finished-answer-is-final")
            .and(predicate::str::ends_with("--schedule s.schedule\n")),
    );

    let html = std::fs::read_to_string(dir.path().join("s.html")).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("<svg"),
        "{html}"
    );
    assert!(html.contains("class=\"violated\""), "no violation drawn");
    for external in ["<script src", "<link", "https://", "@import"] {
        assert!(!html.contains(external), "{external} in the page");
    }
}

#[test]
fn a_schedule_that_does_not_parse_is_bad_usage() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.schedule"), "3 a.b yield\n").unwrap();
    agentsim_in(
        dir.path(),
        &[
            "run",
            "stale-output",
            "--seed",
            "1",
            "--schedule",
            "bad.schedule",
        ],
    )
    .code(2)
    .stderr(predicate::str::contains(
        "cannot read bad.schedule: line 1: expected `HIT POINT DECISION`",
    ));
}

/// A run that hangs on purpose: a blocking wait for a process that outlives
/// the run (3 s), and a held link scheduled after its end.
const HANG_PROBE: harness::ScenarioSpec = harness::ScenarioSpec {
    name: "hang-probe",
    summary: "a blocking wait that never returns within the run",
    catches: &[],
    config: harness::SimConfig {
        duration: std::time::Duration::from_secs(3),
        ..harness::SimConfig::DEFAULT
    },
    build: hang_probe,
};

fn hang_probe(world: &mut harness::SimWorld<'_>) {
    use harness::prelude::*;
    use std::time::Duration;
    let forever = Script::new().sleep(Duration::from_secs(3600)).exit(0);
    scenarios::common::agent_host_running(world, [("forever".to_string(), forever)]);
    let (client, agent) = ("client".to_string(), scenarios::common::AGENT.to_string());
    world.fault(
        Duration::from_secs(10),
        Fault::Hold(client.clone(), agent.clone()),
    );
    world.fault(Duration::from_secs(11), Fault::Release(client, agent));
    let inv = world.invariants().clone();
    world.client("client", async move {
        let conn = scenarios::common::connect();
        if let Some(id) = scenarios::common::start_in_project(&conn, &inv, "forever").await {
            let wait = agent_sdk::OutputOptions { wait: true };
            let _ = agent_sdk::AgentConn::process_output(&*conn, &id, wait).await;
        }
        Ok(())
    });
}

#[test]
fn a_hung_run_lists_the_unanswered_request_the_pending_timers_and_ends_with_the_replay() {
    let outcome = harness::runner::run(&HANG_PROBE, harness::Seed(0), &agent::BugSet::none());
    let report = outcome.report();
    for want in [
        "FAIL hang-probe seed 0\ninvariant violated: run-completes\n",
        "open when the run was stopped:\n",
        "/output?wait=true (no chat) on conn2) received at ",
        ", never answered",
        "never exited",
        "  timer: write deadline of conn2 armed at ",
        "  timer: fault#0 hold client <-> agent scheduled at 10.000s, not yet applied\n",
    ] {
        assert!(report.contains(want), "{want:?} missing from\n{report}");
    }
    assert!(
        report.ends_with("repro: cargo run --release --bin agentsim -- run hang-probe --seed 0\n"),
        "{report}"
    );
}

#[test]
fn a_write_deadline_failure_report_says_when_the_deadline_fired_and_why_the_connection_closed() {
    let out = agentsim(&[
        "run",
        "write-timeout-eof",
        "--seed",
        "0",
        "--bug",
        "write-deadline-hidden",
    ])
    .failure();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    for line in [
        "timer.fire         write deadline fired",
        "http.closed        closed: write deadline passed; dropped without a status line",
        "repro: cargo run --release --bin agentsim -- run write-timeout-eof --seed 0 --bug write-deadline-hidden",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}
