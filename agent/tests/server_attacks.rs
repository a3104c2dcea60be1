//! The `agent` binary under the attacks that used to take it over or down,
//! one after another on one running agent: each is refused with its 4xx
//! within a second, the agent's peak resident memory stays under 200 MB,
//! another client is served after every attack, and the agent is still
//! alive at the end.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use assert_cmd::cargo::cargo_bin;
use common::{Answer, Client};
use http::Method;
use serde_json::json;

const TOKEN: &str = "attack-test-token";
/// Every attack must be answered within this.
const PROMPTLY: Duration = Duration::from_secs(1);
/// The agent's peak resident set after all attacks must stay below this.
const MAX_PEAK_RSS_KB: u64 = 200 * 1024;

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The agent's peak resident set size (`VmHWM`) in KiB.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// One attack: a request and the status that must answer it.
struct Attack {
    what: &'static str,
    client: Client,
    method: Method,
    uri: String,
    body: Vec<u8>,
    want: u16,
}

/// Sends `attack`, asserts its status arrives within [`PROMPTLY`], then
/// that a plain request from another client is still served.
async fn check_refused(attack: Attack, bystander: &Client) {
    let answer: Answer = tokio::time::timeout(
        PROMPTLY,
        attack.client.send(attack.method, &attack.uri, attack.body),
    )
    .await
    .unwrap_or_else(|_| panic!("{}: no answer within {PROMPTLY:?}", attack.what))
    .unwrap_or_else(|e| panic!("{}: transport error {e}", attack.what));
    assert_eq!(
        answer.status, attack.want,
        "{}: {:?}",
        attack.what, answer.json
    );
    let list = tokio::time::timeout(PROMPTLY, bystander.get("/api/v0/processes/list"))
        .await
        .unwrap_or_else(|_| panic!("after {}: the agent stopped serving", attack.what));
    assert_eq!(list.status, 200, "after {}", attack.what);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_known_attack_is_refused_promptly_within_bounded_memory() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let mut child = tokio::process::Command::new(cargo_bin!("agent"))
        .args(["--listen", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .env("AGENT_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let addr: SocketAddr = common::listening_addr(&mut child).await;
    let user = Client::tcp(addr).with_token(Some(TOKEN));
    let bystander = user.clone();

    // Fixtures: a FIFO, a sparse 4 GiB file, a 100 KB file, a 30 MB file
    // and a file of 100,000 identical indented lines.
    let fifo = dir.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let sparse = dir.join("sparse");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(4 << 30)
        .unwrap();
    let small = dir.join("small.txt");
    std::fs::write(&small, "x".repeat(100_000)).unwrap();
    let big = dir.join("big.txt");
    std::fs::write(&big, "line of text\n".repeat(30_000_000 / 13)).unwrap();
    let same = dir.join("same.txt");
    std::fs::write(&same, "  a\n".repeat(100_000)).unwrap();
    let p = |path: &std::path::Path| path.to_str().unwrap().to_string();
    let touched = dir.join("touched");

    let start = json!({"command": format!("touch {}", p(&touched))}).to_string();
    let near_miss = format!("{}b", "a\n".repeat(19_999));
    let attacks = vec![
        Attack {
            what: "cross-origin text/plain start from a web page",
            client: user
                .header("origin", "http://evil.example")
                .header("content-type", "text/plain"),
            method: Method::POST,
            uri: "/api/v0/processes/start".into(),
            body: start.clone().into(),
            want: 403,
        },
        Attack {
            what: "form-encoded write-file from a web page",
            client: user
                .header("origin", "http://evil.example")
                .header("content-type", "application/x-www-form-urlencoded"),
            method: Method::POST,
            uri: format!("/api/v0/write-file?path={}", enc(&p(&touched))),
            body: b"a=b".to_vec(),
            want: 403,
        },
        Attack {
            what: "start without a token",
            client: user.with_token(None),
            method: Method::POST,
            uri: "/api/v0/processes/start".into(),
            body: start.clone().into(),
            want: 401,
        },
        Attack {
            what: "DNS rebinding: a foreign Host",
            client: user.header("host", "evil.attacker.com"),
            method: Method::GET,
            uri: "/api/v0/processes/list".into(),
            body: Vec::new(),
            want: 403,
        },
        Attack {
            what: "text/plain start with the token",
            client: user.header("content-type", "text/plain"),
            method: Method::POST,
            uri: "/api/v0/processes/start".into(),
            body: start.clone().into(),
            want: 415,
        },
        Attack {
            what: "read-file-lines on a FIFO",
            client: user.clone(),
            method: Method::GET,
            uri: format!("/api/v0/read-file-lines?path={}", enc(&p(&fifo))),
            body: Vec::new(),
            want: 400,
        },
        Attack {
            what: "read-file-lines on /dev/zero",
            client: user.clone(),
            method: Method::GET,
            uri: "/api/v0/read-file-lines?path=%2Fdev%2Fzero".into(),
            body: Vec::new(),
            want: 400,
        },
        Attack {
            what: "read-file of a sparse 4 GiB file",
            client: user.clone(),
            method: Method::GET,
            uri: format!("/api/v0/read-file?path={}", enc(&p(&sparse))),
            body: Vec::new(),
            want: 413,
        },
        Attack {
            what: "replace_all of 1 byte by 1 MiB on 100 KB",
            client: user.clone(),
            method: Method::POST,
            uri: "/api/v0/edit-files".into(),
            body: json!({"files": [{"path": p(&small), "edits": [
                {"search": "x", "replace": "y".repeat(1 << 20), "replace_all": true}
            ]}]})
            .to_string()
            .into(),
            want: 413,
        },
        Attack {
            what: "near-miss fuzzy search of 20,000 lines in 100,000",
            client: user.clone(),
            method: Method::POST,
            uri: "/api/v0/edit-files".into(),
            body: json!({"files": [{"path": p(&same), "edits": [
                {"search": near_miss, "replace": "z"}
            ]}]})
            .to_string()
            .into(),
            want: 400,
        },
        Attack {
            what: "NUL in a path",
            client: user.clone(),
            method: Method::GET,
            uri: format!("/api/v0/read-file?path={}%00x", enc(&p(dir))),
            body: Vec::new(),
            want: 400,
        },
        Attack {
            what: "a path that is not UTF-8",
            client: user.clone(),
            method: Method::POST,
            uri: format!("/api/v0/write-file?path={}%2F%FF%FE", enc(&p(dir))),
            body: b"x".to_vec(),
            want: 400,
        },
        Attack {
            what: "an env key with '='",
            client: user.clone(),
            method: Method::POST,
            uri: "/api/v0/processes/start".into(),
            body: json!({"command": "true", "env": {"A=B": "c"}})
                .to_string()
                .into(),
            want: 400,
        },
    ];
    for attack in attacks {
        check_refused(attack, &bystander).await;
    }
    assert!(!touched.exists(), "no attack ran a command or wrote a file");

    // include_diff on a 30 MB file: served, with the diff left out, and
    // without the answer or the peak growing with the file.
    let diff = tokio::time::timeout(
        Duration::from_secs(10),
        user.post(
            "/api/v0/edit-files",
            &json!({"include_diff": true, "files": [{"path": p(&big), "edits": [
                {"search": "line of text", "replace": "LINE", "replace_all": true}
            ]}]})
            .to_string(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(diff.status, 200, "{:?}", diff.json);
    assert!(diff.raw.len() < 4096, "answer of {} bytes", diff.raw.len());

    let peak = peak_rss_kb(pid);
    assert!(
        peak < MAX_PEAK_RSS_KB,
        "peak RSS {} MB, limit {} MB",
        peak / 1024,
        MAX_PEAK_RSS_KB / 1024
    );
    assert!(child.try_wait().unwrap().is_none(), "the agent is alive");
    eprintln!("peak RSS after every attack: {} MB", peak / 1024);
}
