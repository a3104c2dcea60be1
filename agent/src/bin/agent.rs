//! The `agent` binary: serves the real API (real processes, filesystem and
//! git) on a TCP address until SIGINT or SIGTERM.
//!
//! ```text
//! agent --listen 127.0.0.1:4242 [--dir D] [--bug NAME]...
//! ```
//!
//! Once bound it prints `listening on <addr>` on stdout (useful with port 0).
//! On a signal it stops accepting, kills every process group it started
//! (no orphaned children), lets open connections finish, and exits 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use agent::{Agent, AgentConfig, Bug, Seams};
use anyhow::Context;
use clap::Parser;
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
    #[arg(long = "bug", value_name = "NAME")]
    bugs: Vec<Bug>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the tokio runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let config = AgentConfig {
        dir: args.dir,
        bugs: args.bugs.into_iter().collect(),
        ..AgentConfig::default()
    };
    let seams = Seams::real(config.wait_delay);
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
