//! The agent as a simulated host: its seams built from the run's seed, and
//! the function that serves it on a turmoil listener.
//!
//! [`SimParts`] holds the simulated pieces a scenario keeps handles to
//! (the filesystem to seed files, the script book to add commands, the
//! repository model to commit) and turns them into the agent's [`Seams`].
//! [`host_agent`] registers the agent host on a world and [`connect`] opens
//! the SDK's connection to it; [`AgentRun`] runs one client against a fresh
//! simulated agent and hands back what the client returned (for tests that
//! want a value, such as snapshots, rather than invariants).

use parking_lot::Mutex;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use agent::seams::{FixedEnvInfo, Seams};
use agent::{Agent, AgentConfig};
use agent_sdk::HttpAgentConn;
use sim_hooks::BugSet;

use crate::clock::{self, SimClock};
use crate::ids::SeededIds;
use crate::net::{AGENT_PORT, TurmoilConnector, TurmoilListener};
use crate::runner::{self, Failure, Outcome};
use crate::scenario::Scenario;
use crate::seed::{Seed, stream};
use crate::sim_exec::{ScriptBook, SimExec};
use crate::sim_fs::{HOME, PROJECT, SimFs};
use crate::sim_scanner::SimScanner;
use crate::trace::Trace;
use crate::world::{SimConfig, SimWorld};

/// The agent's host name in every simulation.
pub const AGENT_HOST: &str = "agent";

/// The agent's configuration in a simulation: the original agent's values, the
/// project directory, and the run's bug switches. Clients reach the agent as
/// `agent:4000`, so that is its listen host; its token is filled in from the
/// run's seed by [`host_agent`].
pub fn agent_config(bugs: &BugSet) -> AgentConfig {
    AgentConfig {
        dir: Some(PathBuf::from(PROJECT)),
        bugs: bugs.clone(),
        // hyper's Date header reads the real clock: off under simulation.
        http_date_header: false,
        listen_host: Some(AGENT_HOST.to_string()),
        ..AgentConfig::default()
    }
}

/// The seed stream the simulated agent's token is drawn from.
pub const TOKEN_STREAM: &str = "agent-token";

/// The simulated agent's bearer token for `seed`: `sim-<16 hex>`.
pub fn sim_token(seed: Seed) -> String {
    format!("sim-{:016x}", seed.derive(TOKEN_STREAM))
}

thread_local! {
    /// The token of the agent the current run hosts. A run builds its world
    /// and steps every host on one thread, so the clients of a run find
    /// here the token [`host_agent`] gave its agent.
    static RUN_TOKEN: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// The bearer token of the agent hosted by the current run (`None` before
/// [`host_agent`], or for an agent configured without one).
pub fn token() -> Option<String> {
    RUN_TOKEN.with(|t| t.borrow().clone())
}

/// The simulated world of one agent host.
#[derive(Clone)]
pub struct SimParts {
    pub fs: SimFs,
    pub scripts: ScriptBook,
    pub exec: SimExec,
    pub scanner: SimScanner,
    pub ids: Arc<SeededIds>,
    pub clock: SimClock,
    pub env: FixedEnvInfo,
}

impl SimParts {
    /// Fresh parts: the fixed filesystem layout, an empty script book, ids
    /// from the seed's `ids` stream, and `config`'s wait delay.
    pub fn new(seed: Seed, trace: &Trace, config: &AgentConfig) -> Self {
        let fs = SimFs::new();
        let scripts = ScriptBook::new();
        let exec = SimExec::new(scripts.clone(), config.wait_delay, trace.clone())
            .with_fs(fs.clone())
            .with_bugs(&config.bugs);
        SimParts {
            scanner: SimScanner::new(fs.clone()),
            ids: Arc::new(SeededIds::new(seed.rng(stream::IDS))),
            clock: SimClock::new(clock::epoch()),
            env: FixedEnvInfo {
                home: Some(PathBuf::from(HOME)),
                vars: vec![
                    ("HOME".into(), HOME.into()),
                    ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
                    ("USER".into(), "coder".into()),
                ],
            },
            fs,
            scripts,
            exec,
        }
    }

    /// The agent's seams over these parts.
    pub fn seams(&self) -> Seams {
        Seams {
            offload: Arc::new(agent::seams::Inline),
            exec: Arc::new(self.exec.clone()),
            fs: Arc::new(self.fs.clone()),
            scanner: Arc::new(self.scanner.clone()),
            ids: self.ids.clone(),
            clock: Arc::new(self.clock),
            env: Arc::new(self.env.clone()),
            update_env: None,
        }
    }
}

/// Serves `agent` on [`AGENT_PORT`] of the current simulated host with the
/// agent's own server (accept loop, write-deadline layer, header-read
/// timeout): the same code the real binary runs, over a turmoil listener.
pub async fn serve_agent(agent: Agent) -> io::Result<()> {
    let listener = TurmoilListener::bind(AGENT_PORT).await?;
    agent::http::server::serve(listener, agent, std::future::pending()).await;
    Ok(())
}

/// Registers the agent host [`AGENT_HOST`] on `world` (before any client,
/// `docs/design.md#simulation-setup`), serving `config` over fresh
/// [`SimParts`]; `setup` seeds files, scripts and repositories first. A bounce
/// restarts the agent over the same parts (files survive, processes do not).
///
/// An agent configured without a token gets the seed's ([`sim_token`]);
/// [`connect`] and [`token`] hand it to the run's clients.
pub fn host_agent(
    world: &mut SimWorld<'_>,
    mut config: AgentConfig,
    setup: impl FnOnce(&SimParts),
) -> SimParts {
    let token = config
        .token
        .get_or_insert_with(|| sim_token(world.seed()))
        .clone();
    RUN_TOKEN.with(|t| *t.borrow_mut() = Some(token));
    let parts = SimParts::new(world.seed(), world.trace(), &config);
    setup(&parts);
    let p = parts.clone();
    world.host(AGENT_HOST, move || {
        let (config, seams) = (config.clone(), p.seams());
        async move {
            serve_agent(Agent::new(config, seams)).await?;
            Ok(())
        }
    });
    parts
}

/// An SDK connection to the agent host with the run's token (no extra
/// headers).
pub fn connect() -> HttpAgentConn<TurmoilConnector> {
    let conn = HttpAgentConn::new(TurmoilConnector::agent(AGENT_HOST));
    match token() {
        Some(token) => conn.with_token(token),
        None => conn,
    }
}

/// One client against a fresh simulated agent, run by the seed runner (so
/// yield points, traces, panics and the sim clock behave as in a
/// scenario), returning the client's value.
#[derive(Clone, Debug)]
pub struct AgentRun {
    pub seed: Seed,
    /// On in the agent (through [`AgentRun::agent`]) and in the world.
    pub bugs: BugSet,
    /// Tick, latency, duration and yield-point scheduler.
    pub sim: SimConfig,
    pub agent: AgentConfig,
}

impl AgentRun {
    /// The default simulation and the simulated agent's configuration
    /// ([`agent_config`]) with `bugs` on.
    pub fn new(seed: Seed, bugs: BugSet) -> Self {
        AgentRun {
            agent: agent_config(&bugs),
            seed,
            bugs,
            sim: SimConfig::default(),
        }
    }

    /// Registers the agent, lets `setup` seed its parts and schedule
    /// faults, then runs `client` as the only client host. Returns the
    /// client's value, or the run's outcome when it failed (a panic, a
    /// turmoil error such as running out of simulated time).
    pub fn run<T, S, C, Fut>(&self, setup: S, client: C) -> Result<T, Box<Outcome>>
    where
        T: Send + 'static,
        S: FnOnce(&mut SimWorld<'_>, &SimParts) + Send,
        C: FnOnce(SimParts) -> Fut + Send,
        Fut: Future<Output = T> + 'static,
    {
        let value = Arc::new(Mutex::new(None));
        let once = OneClient {
            run: self.clone(),
            setup: Mutex::new(Some(setup)),
            client: Mutex::new(Some(client)),
            value: value.clone(),
        };
        let mut outcome = runner::run(&once, self.seed, &self.bugs);
        if outcome.failure.is_some() {
            return Err(Box::new(outcome));
        }
        let taken = take(&value);
        taken.ok_or_else(|| {
            outcome.failure = Some(Failure::Sim("the client returned no value".into()));
            Box::new(outcome)
        })
    }
}

fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().take()
}

/// [`AgentRun`] as a scenario: built once, so its closures are taken out.
struct OneClient<S, C, T> {
    run: AgentRun,
    setup: Mutex<Option<S>>,
    client: Mutex<Option<C>>,
    value: Arc<Mutex<Option<T>>>,
}

impl<S, C, T, Fut> Scenario for OneClient<S, C, T>
where
    T: Send + 'static,
    S: FnOnce(&mut SimWorld<'_>, &SimParts) + Send,
    C: FnOnce(SimParts) -> Fut + Send,
    Fut: Future<Output = T> + 'static,
{
    fn name(&self) -> &'static str {
        "agent-run"
    }

    fn summary(&self) -> &'static str {
        "one client against a fresh simulated agent"
    }

    fn config(&self) -> SimConfig {
        self.run.sim.clone()
    }

    fn build(&self, world: &mut SimWorld<'_>) {
        let (Some(setup), Some(client)) = (take(&self.setup), take(&self.client)) else {
            panic!("AgentRun builds its world once");
        };
        let parts = host_agent(world, self.run.agent.clone(), |_| {});
        setup(world, &parts);
        let value = self.value.clone();
        let fut = client(parts);
        world.client("client", async move {
            let v = fut.await;
            *value.lock() = Some(v);
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use agent_sdk::{AgentConn, OutputOptions, StartProcessRequest};

    use super::*;
    use crate::sim_exec::Script;

    #[test]
    fn an_agent_run_returns_what_its_client_saw_and_replays_identically() {
        let run = AgentRun::new(Seed(3), BugSet::none());
        let go = || {
            run.run(
                |_, parts| {
                    let script = Script::new()
                        .write("hi\n")
                        .sleep(Duration::from_millis(40))
                        .exit(2);
                    parts.scripts.insert("greet", script);
                },
                |_| async {
                    let conn = connect();
                    let req = StartProcessRequest {
                        command: "greet".into(),
                        ..StartProcessRequest::default()
                    };
                    let id = conn.start_process(&req).await.unwrap().id;
                    let out = conn
                        .process_output(&id, OutputOptions { wait: true })
                        .await
                        .unwrap();
                    (id, out.output, out.exit_code, tokio::time::Instant::now())
                },
            )
            .unwrap_or_else(|o| panic!("{}", o.report()))
        };
        let (id, output, code, _) = go();
        assert_eq!((output.as_str(), code), ("hi\n", Some(2)));
        assert_eq!(go().0, id, "seeded ids");
    }

    #[test]
    fn a_client_that_panics_is_a_failed_run() {
        let run = AgentRun::new(Seed(0), BugSet::none());
        let outcome = run
            .run::<(), _, _, _>(|_, _| {}, |_| async { panic!("client bug") })
            .expect_err("fails");
        assert!(
            matches!(&outcome.failure, Some(Failure::Panic(p)) if p.contains("client bug")),
            "{:?}",
            outcome.failure
        );
    }
}
