//! Test support shared by the agent's, the SDK's and the chat tools' tests
//! and by the hostile-input scenario: a real agent served on loopback
//! ([`TestAgent`]) and the hostile-request generators ([`hostile`]).
//! A development crate: never a dependency of shipped code.

pub mod hostile;
mod served;

pub use served::{TEST_TOKEN, TestAgent, real_seams};
