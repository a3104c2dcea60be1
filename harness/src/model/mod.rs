//! Reference models the oracles check the agent's answers against, written
//! apart from the agent's code: [`headtail`] renders output from every byte
//! written, [`process`] keeps what the simulated processes did, [`files`]
//! applies acknowledged edits serially.

pub mod files;
pub mod git;
/// The every-byte output model, shared with the buffer's property test.
pub use agent_testkit::headtail_model as headtail;
pub mod process;
