//! The agent's wire types: what the agent answers and its clients send,
//! with the agent's JSON encoding (field order, omitted zero values, Go's
//! `null`-as-zero decoding). A crate of its own so a client needs serde
//! only, not the server.

pub mod error;
pub mod files;
pub mod git;
pub mod process;

pub use error::{ErrorBody, Validation};
pub use files::{
    EditFilesRequest, EditFilesResponse, FileEdit, FileEditResult, FileEdits, ReadFileLinesLimits,
    ReadFileLinesResponse,
};
pub use git::{ClientMessage, GitShowResponse, RepoChange, ServerMessage};
pub use process::{
    ListProcessesResponse, ProcessInfo, ProcessOutputResponse, SignalProcessRequest,
    StartProcessRequest, StartProcessResponse, Truncation,
};
