//! The `agent` binary: serves the real API (real processes, filesystem and
//! git) on a TCP address until SIGINT or SIGTERM.
//!
//! ```text
//! agent --listen 127.0.0.1:4242 [--dir D] [--bug NAME]...
//!       [--token-file PATH | --no-auth] [--allowed-host NAME]... [--allowed-origin ORIGIN]...
//! ```
//!
//! Once bound it prints `listening on <addr>` on stdout (useful with port 0).
//! On a signal it stops accepting, kills every process group it started
//! (no orphaned children), lets open connections finish, and exits 0.
//!
//! Every request must carry `Authorization: Bearer <token>`. The token is
//! `$AGENT_TOKEN` when set and non-empty; else the contents of
//! `--token-file` (created with a fresh token, mode 0600, if missing); else
//! a fresh one printed once on stderr. `--no-auth` turns the check off and
//! is refused unless the listen address is loopback.

use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use agent::{Agent, AgentConfig, Seams};
use anyhow::{Context, bail};
use clap::Parser;
use rand::TryRngCore;
use tokio::signal::unix::{SignalKind, signal};

/// How long open connections get to finish after the processes are gone.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Parser)]
#[command(
    name = "agent",
    about = "Workspace agent: process, file and git-watch APIs over HTTP"
)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:4242")]
    listen: SocketAddr,
    /// Default working directory for processes started without one.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Turn a known-bug switch on (repeatable), e.g. `stale-output-read`.
    /// Only in builds with the `bug-switches` feature: a released agent
    /// cannot be told to misbehave.
    #[cfg(feature = "bug-switches")]
    #[arg(long = "bug", value_name = "NAME")]
    bugs: Vec<agent::Bug>,
    /// Read the bearer token from PATH (created with a fresh token, mode
    /// 0600, if missing). `$AGENT_TOKEN` takes precedence.
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// No authentication: local experiments only, refused unless the listen
    /// address is loopback.
    #[arg(long, conflicts_with = "token_file")]
    no_auth: bool,
    /// Also accept requests whose `Host` is NAME (repeatable); by default
    /// only localhost, loopback addresses and the listen address.
    #[arg(long = "allowed-host", value_name = "NAME")]
    allowed_hosts: Vec<String>,
    /// Accept requests carrying `Origin: ORIGIN` (repeatable); requests from
    /// any other web origin are refused.
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
}

/// The environment variable that carries the token.
const TOKEN_ENV: &str = "AGENT_TOKEN";

/// Where the token comes from, in order of precedence.
fn token(args: &Args) -> anyhow::Result<Option<String>> {
    if args.no_auth {
        if !args.listen.ip().is_loopback() {
            eprintln!(
                "agent: --no-auth is refused on the non-loopback address {}: \
                 anyone who can reach it could run commands as this user",
                args.listen
            );
            std::process::exit(2);
        }
        eprintln!(
            "agent: WARNING: --no-auth: any local process can run commands as this user \
             through the agent"
        );
        return Ok(None);
    }
    if let Some(token) = std::env::var(TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        return Ok(Some(token.trim().to_string()));
    }
    if let Some(path) = &args.token_file {
        return read_or_create_token_file(path).map(Some);
    }
    let token = fresh_token()?;
    eprintln!("agent: token {token}");
    Ok(Some(token))
}

/// 32 bytes from the OS, hex-encoded.
fn fresh_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .context("read the OS random number generator")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Reads the token file, or creates it (exclusively, mode 0600) with a
/// fresh token when it does not exist. A file others could read or write
/// is refused: its token protects command execution as this user.
fn read_or_create_token_file(path: &Path) -> anyhow::Result<String> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            let token = fresh_token()?;
            file.write_all(format!("{token}\n").as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("write the token file {}", path.display()))?;
            return Ok(token);
        }
        // Created by someone else (or by us, earlier): read it below.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(e).with_context(|| format!("create the token file {}", path.display()));
        }
    }
    let meta = std::fs::metadata(path)
        .with_context(|| format!("read the token file {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o066 != 0 {
        bail!(
            "the token file {} has mode {mode:04o}: it must not be readable or writable by \
             group or others (chmod 600 it)",
            path.display()
        );
    }
    let token = std::fs::read_to_string(path)
        .with_context(|| format!("read the token file {}", path.display()))?;
    let token = token.trim();
    if token.is_empty() {
        bail!("the token file {} is empty", path.display());
    }
    Ok(token.to_string())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal: a log file or a
        // collector reading a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // The token file is read (or created) before the runtime starts, so
    // this blocking file work never runs on a runtime thread.
    let token = token(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the tokio runtime")?;
    runtime.block_on(run(args, token))
}

async fn run(args: Args, token: Option<String>) -> anyhow::Result<()> {
    let config = AgentConfig {
        dir: args.dir,
        #[cfg(feature = "bug-switches")]
        bugs: args.bugs.into_iter().collect(),
        token,
        listen_host: Some(args.listen.ip().to_string()),
        allowed_hosts: args.allowed_hosts,
        allowed_origins: args.allowed_origins,
        ..AgentConfig::default()
    };
    let seams = Seams {
        offload: std::sync::Arc::new(agent::seams::BlockingPool::new(config.blocking_threads)),
        ..Seams::real(config.wait_delay)
    };
    let agent = Agent::new(config, seams);
    // Evicts old finished processes even when nobody lists them.
    let _sweeper = agent.processes().spawn_sweeper();

    let mut sigterm = signal(SignalKind::terminate()).context("install SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("install SIGINT handler")?;

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listen on {}", args.listen))?;
    let addr = listener.local_addr().context("local address")?;
    tracing::info!(%addr, bugs = ?agent.config().bugs, "agent listening");
    println!("listening on {addr}");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(agent::http::serve(listener, agent.clone(), async move {
        let _ = stop_rx.await;
    }));

    tokio::select! {
        biased;
        _ = sigterm.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = sigint.recv() => tracing::info!("SIGINT: shutting down"),
    }
    // Processes first: blocking output requests end when they exit.
    agent.processes().shutdown().await;
    let _ = stop_tx.send(());
    match tokio::time::timeout(DRAIN_TIMEOUT, server).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "server task failed"),
        Err(_) => tracing::warn!("connections still open after the drain timeout"),
    }
    tracing::info!("agent stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("agent").chain(args.iter().copied()))
    }

    #[cfg(feature = "bug-switches")]
    #[test]
    fn bug_flag_turns_switches_on_with_the_bug_switches_feature() {
        let args = parse(&["--bug", "stale-output-read", "--bug", "lost-wakeup"]).expect("parses");
        assert_eq!(
            args.bugs,
            vec![agent::Bug::StaleOutputRead, agent::Bug::LostWakeup]
        );
    }

    #[cfg(not(feature = "bug-switches"))]
    #[test]
    fn bug_flag_does_not_exist_without_the_bug_switches_feature() {
        let err = parse(&["--bug", "stale-output-read"]).expect_err("no such flag");
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument, "{err}");
    }

    #[test]
    fn defaults_parse_without_flags() {
        let args = parse(&[]).expect("parses");
        assert_eq!(args.listen.to_string(), "127.0.0.1:4242");
    }
}
