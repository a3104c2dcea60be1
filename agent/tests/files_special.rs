//! The file API against the files that used to take the agent down, on a
//! real agent over loopback: FIFOs, sockets and devices are refused (400)
//! without an open that can block; reads and edits are bounded by what is
//! actually read (413 beyond the configured sizes, nothing written); a NUL
//! or a byte sequence that is not UTF-8 in a path is a 400. Every answer
//! must come within a second, and the agent keeps serving meanwhile.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use agent::AgentConfig;
use common::{Answer, Client, TestAgent, TestAgentExt};
use serde_json::json;

/// Every attack here must be answered within this bound.
const PROMPTLY: Duration = Duration::from_secs(1);

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The four ways the file API reads or replaces a file.
#[derive(Clone, Copy, Debug)]
enum Op {
    ReadFile,
    ReadFileLines,
    Edit,
    Write,
}

const ALL_OPS: [Op; 4] = [Op::ReadFile, Op::ReadFileLines, Op::Edit, Op::Write];

async fn send(client: &Client, op: Op, path: &str) -> Answer {
    let call = async {
        match op {
            Op::ReadFile => {
                client
                    .get(&format!("/api/v0/read-file?path={}", enc(path)))
                    .await
            }
            Op::ReadFileLines => {
                client
                    .get(&format!("/api/v0/read-file-lines?path={}", enc(path)))
                    .await
            }
            Op::Edit => {
                let body =
                    json!({"files": [{"path": path, "edits": [{"search": "a", "replace": "b"}]}]});
                client.post("/api/v0/edit-files", &body.to_string()).await
            }
            Op::Write => {
                client
                    .post(
                        &format!("/api/v0/write-file?path={}", enc(path)),
                        "new content",
                    )
                    .await
            }
        }
    };
    tokio::time::timeout(PROMPTLY, call)
        .await
        .unwrap_or_else(|_| panic!("{op:?} {path}: no answer within {PROMPTLY:?}"))
}

/// `op` on `path` is a 400 whose message names `what`.
async fn check_refused(client: &Client, op: Op, path: &str, what: &str) {
    let answer = send(client, op, path).await;
    assert_eq!(answer.status, 400, "{op:?} {path}: {:?}", answer.json);
    assert!(
        answer.message().contains(what),
        "{op:?} {path}: message {:?} should name {what:?}",
        answer.message()
    );
}

async fn agent_with(config: AgentConfig) -> (tempfile::TempDir, TestAgent, Client) {
    let home = tempfile::tempdir().unwrap();
    let agent = TestAgent::real_with(config, home.path()).await;
    let client = agent.client();
    (home, agent, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_is_refused_at_once_by_every_file_operation_and_stays_a_fifo() {
    let (home, _agent, client) = agent_with(AgentConfig::default()).await;
    let fifo = home.path().join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let fifo = fifo.to_str().unwrap();
    for op in ALL_OPS {
        check_refused(&client, op, fifo, "named pipe (FIFO)").await;
    }
    let kind = std::fs::symlink_metadata(fifo).unwrap().file_type();
    assert!(
        std::os::unix::fs::FileTypeExt::is_fifo(&kind),
        "still a FIFO"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_requests_are_served_while_a_fifo_is_read() {
    let (home, _agent, client) = agent_with(AgentConfig::default()).await;
    let fifo = home.path().join("pipe");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let fifo = fifo.to_str().unwrap().to_string();
    let reader = {
        let client = client.clone();
        tokio::spawn(async move { send(&client, Op::ReadFileLines, &fifo).await })
    };
    let list = tokio::time::timeout(PROMPTLY, client.get("/api/v0/processes/list"))
        .await
        .expect("processes/list answers while a FIFO read is in flight");
    assert_eq!(list.status, 200);
    assert_eq!(reader.await.unwrap().status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_and_devices_are_refused_and_left_alone() {
    let (home, _agent, client) = agent_with(AgentConfig::default()).await;
    let socket = home.path().join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let socket = socket.to_str().unwrap();
    for op in ALL_OPS {
        check_refused(&client, op, socket, "a socket").await;
    }
    // Reading /dev/zero used to grow memory without limit. Writes to a
    // device are not tried here: a bug would replace the machine's device.
    for op in [Op::ReadFile, Op::ReadFileLines, Op::Edit] {
        check_refused(&client, op, "/dev/zero", "character device").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proc_files_are_read_up_to_the_cap_not_by_their_reported_size() {
    let config = AgentConfig {
        max_read_size: 64,
        ..AgentConfig::default()
    };
    let (_home, _agent, client) = agent_with(config).await;
    // /proc/self/status reports size 0 but holds more than 64 bytes.
    let answer = send(&client, Op::ReadFileLines, "/proc/self/status").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json["success"], false, "{:?}", answer.json);
    let error = answer.json["error"].as_str().unwrap();
    assert!(error.contains("more than 64"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_is_allowed_up_to_exactly_the_read_cap_and_refused_one_byte_beyond() {
    let config = AgentConfig {
        max_read_size: 64,
        ..AgentConfig::default()
    };
    let (home, _agent, client) = agent_with(config).await;
    for (len, status) in [(64, 200), (65, 413)] {
        let path = home.path().join(format!("cap-{len}.txt"));
        let original = format!("a{}", "x".repeat(len - 1));
        std::fs::write(&path, &original).unwrap();
        let answer = send(&client, Op::Edit, path.to_str().unwrap()).await;
        assert_eq!(answer.status, status, "{len} bytes: {:?}", answer.json);
        let want = if status == 200 {
            format!("b{}", "x".repeat(len - 1))
        } else {
            original
        };
        assert_eq!(std::fs::read_to_string(&path).unwrap(), want, "{len} bytes");
    }
}

/// A file of `len` bytes at `name` in `home`: sparse (no blocks written),
/// so gigabytes cost nothing on disk.
fn sparse(home: &Path, name: &str, len: u64) -> String {
    let path = home.join(name);
    std::fs::File::create(&path).unwrap().set_len(len).unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sparse_4_gib_file_is_refused_by_size_without_being_read() {
    let (home, _agent, client) = agent_with(AgentConfig::default()).await;
    let huge = sparse(home.path(), "huge", 4 << 30);

    let read = send(&client, Op::ReadFile, &huge).await;
    assert_eq!(read.status, 413, "{:?}", read.json);
    assert!(
        read.message().contains("offset and limit"),
        "{}",
        read.message()
    );

    let lines = send(&client, Op::ReadFileLines, &huge).await;
    assert_eq!(lines.json["success"], false);
    assert!(
        lines.json["error"]
            .as_str()
            .unwrap()
            .contains("exceeds the maximum"),
        "{:?}",
        lines.json
    );

    let edit = send(&client, Op::Edit, &huge).await;
    assert_eq!(edit.status, 413, "{:?}", edit.json);
    assert_eq!(
        std::fs::metadata(&huge).unwrap().len(),
        4 << 30,
        "untouched"
    );

    // A range within the cap is still served.
    let part = client
        .get(&format!(
            "/api/v0/read-file?path={}&offset=1000&limit=4096",
            enc(&huge)
        ))
        .await;
    assert_eq!((part.status, part.raw.len()), (200, 4096));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_whose_result_exceeds_the_cap_is_413_and_writes_nothing() {
    let config = AgentConfig {
        max_edit_result: 1 << 20,
        ..AgentConfig::default()
    };
    let (home, _agent, client) = agent_with(config).await;
    let path = home.path().join("f.txt");
    let original = "x".repeat(100_000);
    std::fs::write(&path, &original).unwrap();
    // Every byte replaced by 1 MiB would make 100 GB.
    let body = json!({"files": [{
        "path": path.to_str().unwrap(),
        "edits": [{"search": "x", "replace": "y".repeat(1 << 20), "replace_all": true}],
    }]});
    let answer = tokio::time::timeout(
        PROMPTLY,
        client.post("/api/v0/edit-files", &body.to_string()),
    )
    .await
    .expect("answered promptly");
    assert_eq!(answer.status, 413, "{:?}", answer.json);
    assert!(answer.message().contains("f.txt"), "{}", answer.message());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_diff_on_a_large_edit_omits_the_diff_with_a_note() {
    let config = AgentConfig {
        max_diff_input: 1000,
        ..AgentConfig::default()
    };
    let (home, _agent, client) = agent_with(config).await;
    let path = home.path().join("big.txt");
    std::fs::write(&path, "line\n".repeat(400)).unwrap();
    let body = json!({"include_diff": true, "files": [{
        "path": path.to_str().unwrap(),
        "edits": [{"search": "line", "replace": "LINE", "replace_all": true}],
    }]});
    let answer = client.post("/api/v0/edit-files", &body.to_string()).await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    let file = &answer.json["files"][0];
    assert_eq!(file["diff"], "");
    assert!(
        file["note"].as_str().unwrap().starts_with("diff omitted"),
        "{file:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "LINE\n".repeat(400)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_or_non_utf8_path_is_400_and_creates_nothing() {
    let (home, _agent, client) = agent_with(AgentConfig::default()).await;
    let dir = home.path().to_str().unwrap();
    for (query, what) in [
        (format!("{}%2Fa%00b", enc(dir)), "NUL"),
        (format!("{}%2F%FF%FE", enc(dir)), "UTF-8"),
    ] {
        for route in ["read-file", "read-file-lines", "write-file"] {
            let uri = format!("/api/v0/{route}?path={query}");
            let answer = if route == "write-file" {
                client.post(&uri, "x").await
            } else {
                client.get(&uri).await
            };
            assert_eq!(answer.status, 400, "{uri}: {:?}", answer.json);
            let details = answer.json["validations"].to_string();
            assert!(details.contains(what), "{uri}: {details}");
        }
    }
    let nul = format!("{dir}/a\u{0}b");
    check_refused(&client, Op::Edit, &nul, "NUL").await;
    let left: Vec<_> = std::fs::read_dir(home.path()).unwrap().collect();
    assert!(left.is_empty(), "nothing created: {left:?}");
}
