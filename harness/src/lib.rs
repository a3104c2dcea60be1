//! Deterministic simulation harness: runs the agent, SDK and chat tools
//! under turmoil with simulated exec, filesystem and git, a seeded
//! yield-point scheduler, fault plans, invariants and a trace timeline.
