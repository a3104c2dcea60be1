//! File API hot paths on a 1 MiB source file:
//!
//! - `fuzzy/*`: the edit matcher alone, with a pass-1 (exact), pass-2
//!   (trailing whitespace), pass-3 (indentation) hit near the end of the
//!   file, and a miss that runs all three passes over the whole file.
//! - `fuzzy/near_miss`: the adversarial miss of the line passes (100,000
//!   lines `"  a"`, a search of 19,999 lines `"a"` and one `"b"`), which a
//!   window-by-window matcher takes seconds over; the bar is under 50 ms.
//! - `edit_files/miss`: the whole edit-files request on a real file (resolve,
//!   stat, read 1 MiB, match, answer) — the bar is under 5 ms.
//! - `read_file_lines/*`: the line reader alone and the whole read on a real
//!   file, 400 lines from the middle (counting every line of the file).

use std::hint::black_box;
use std::time::Duration;

use agent::files::fuzzy::{MatchError, Pass, apply_edit};
use agent::files::lines::number_lines;
use agent::files::wire::{EditFilesRequest, FileEdit, FileEdits, ReadFileLinesLimits};
use agent::http::ChatContext;
use agent::{Agent, AgentConfig, Seams};
use benches::{MISSING, near_miss, source};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn fuzzy(c: &mut Criterion) {
    let (text, lines, at) = source();
    let block = &lines[at..at + 2];
    let exact = block.join("\n");
    let trailing = block
        .iter()
        .map(|l| format!("{l}  \t"))
        .collect::<Vec<_>>()
        .join("\n");
    let indented = block
        .iter()
        .map(|l| format!("\t{}", l.trim_start()))
        .collect::<Vec<_>>()
        .join("\n");
    let missing = MISSING.to_string();
    let cases = [
        ("pass1_hit", exact, Some(Pass::Exact)),
        ("pass2_hit", trailing, Some(Pass::TrailingWhitespace)),
        ("pass3_hit", indented, Some(Pass::Indentation)),
        ("miss", missing, None),
    ];

    let mut group = c.benchmark_group("fuzzy");
    group.throughput(Throughput::Bytes(text.len() as u64));
    for (name, search, pass) in cases {
        let got = apply_edit(text.as_bytes(), &search, "REPLACED", false, usize::MAX);
        assert_eq!(
            got.ok().map(|a| a.pass),
            pass,
            "{name} must hit the intended pass"
        );
        group.bench_function(name, |b| {
            b.iter(|| {
                apply_edit(
                    black_box(text.as_bytes()),
                    black_box(&search),
                    "REPLACED",
                    false,
                    usize::MAX,
                )
            })
        });
    }

    let (content, search) = near_miss();
    let got = apply_edit(content.as_bytes(), &search, "REPLACED", false, usize::MAX);
    assert!(
        matches!(got, Err(MatchError::NotFound { .. })),
        "near_miss must not match"
    );
    group.throughput(Throughput::Bytes(content.len() as u64));
    group.bench_function("near_miss", |b| {
        b.iter(|| {
            apply_edit(
                black_box(content.as_bytes()),
                black_box(&search),
                "REPLACED",
                false,
                usize::MAX,
            )
        })
    });
    group.finish();
}

fn real_agent() -> Agent {
    Agent::new(AgentConfig::default(), Seams::real(Duration::from_secs(5)))
}

fn edit_files(c: &mut Criterion) {
    let (text, _, _) = source();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.rs");
    std::fs::write(&path, &text).expect("write");
    let agent = real_agent();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let req = EditFilesRequest {
        files: vec![FileEdits {
            path: path.display().to_string(),
            edits: vec![FileEdit {
                search: "    let nowhere = compute(input, 0);\n".into(),
                replace: "x".into(),
                replace_all: false,
            }],
        }],
        include_diff: false,
    };
    let chat = ChatContext::default();

    let mut group = c.benchmark_group("edit_files");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("miss", |b| {
        b.iter(|| {
            let cx = agent::files::edit::EditContext {
                io: agent.file_io(),
                paths: agent.paths(),
                limits: agent::files::edit::EditLimits::of(agent.config()),
            };
            let chats = chat.chat_and_ancestors();
            let result = rt.block_on(agent::files::edit::edit_files(&cx, &chats, &req));
            assert!(result.is_err());
        })
    });
    group.finish();
}

fn read_file_lines(c: &mut Criterion) {
    let (text, lines, _) = source();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.rs");
    std::fs::write(&path, &text).expect("write");
    let path = path.display().to_string();
    let agent = real_agent();
    let limits = ReadFileLinesLimits::default();
    let middle = (lines.len() / 2) as u64;

    let mut group = c.benchmark_group("read_file_lines");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("reader", |b| {
        b.iter(|| {
            let r = number_lines(
                black_box(text.as_bytes()),
                text.len() as u64,
                middle,
                400,
                &limits,
            );
            assert!(r.success);
            r
        })
    });
    group.bench_function("whole_read", |b| {
        b.iter(|| {
            let r = agent::files::read::read_file_lines(
                agent.seams().fs.as_ref(),
                &path,
                middle,
                400,
                &limits,
                u64::MAX,
            )
            .expect("a regular file");
            assert!(r.success, "{}", r.error);
            r
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(3));
    targets = fuzzy, edit_files, read_file_lines
}
criterion_main!(benches);
