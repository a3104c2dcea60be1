//! Test support shared by the agent's, the SDK's and the chat tools' tests
//! and by the hostile-input scenario: a real agent served on loopback
//! ([`TestAgent`]), the hostile-request generators ([`hostile`]) and the
//! scripted process model behind the `Exec` seam ([`scripted`]), which the
//! simulation harness wraps, and the naive every-byte model of the output
//! buffer ([`headtail_model`]) that both the buffer's property test and the
//! harness's output oracle check against.
//! A development crate: never a dependency of shipped code.

pub mod headtail_model;
pub mod hostile;
pub mod scripted;
mod served;

/// Two well-formed chat ids, for tests of chat scoping and the
/// chat-header generators.
pub const CHAT_A: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
pub const CHAT_B: &str = "16fd2706-8baf-433b-82eb-8c7fada847da";

pub use served::{TEST_TOKEN, TestAgent, real_seams};
