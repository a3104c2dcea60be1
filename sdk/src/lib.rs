//! Client SDK for the workspace agent.
//!
//! [`AgentConn`] is what the chat tools program against; [`HttpAgentConn`]
//! implements it over HTTP/1 with one connection per request (the original
//! disables keep-alive), through a [`Connector`] seam: real TCP here,
//! turmoil TCP under simulation. Path and query components are escaped
//! (the original interpolated them raw: W17 in `docs/races.md`).
//!
//! Module layering (no two modules import each other): `transport` (the
//! HTTP core) at the bottom; `processes`, `files` and `git` add their calls
//! to [`HttpAgentConn`] on top of it; `conn` declares [`AgentConn`] and
//! implements it with those calls.

pub mod conn;
pub mod connector;
pub mod error;
pub mod files;
pub mod git;
pub mod processes;
pub mod transport;

pub use conn::{AgentConn, HttpAgentConn, OutputOptions};
pub use connector::{Connector, TcpConnector};
pub use error::SdkError;
pub use git::GitWatch;

pub use agent_wire::files::{
    EditFilesRequest, EditFilesResponse, FileEdit, FileEditResult, FileEdits, ReadFileLinesLimits,
    ReadFileLinesResponse,
};
pub use agent_wire::git::{ClientMessage, RepoChange, ServerMessage};
pub use agent_wire::process::Truncation;
pub use agent_wire::process::{
    ListProcessesResponse, ProcessInfo, ProcessOutputResponse, StartProcessRequest,
    StartProcessResponse,
};
