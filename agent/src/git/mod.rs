//! Git watch (`docs/agent-api.md#git`): the PathStore, the scanner seam, the
//! per-connection watch handler and `show`. The HTTP endpoints (the watch
//! WebSocket, `show`) live in [`crate::http::git`].

pub mod pathstore;
pub mod scanner;
pub mod show;
pub mod watch;
pub use agent_wire::git as wire;

pub use pathstore::{PathStore, Subscription};
pub use show::{SHOW_MAX_FILE_SIZE, show};
pub use watch::{WatchHandler, follow_paths, subscribe_and_get_paths};

/// Why `show` failed; the HTTP layer turns it into the error envelope.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The repository root has no `.git`.
    #[error("Not a git repository.")]
    NotARepository,
    /// git could not produce the file at that ref.
    #[error("File not found.")]
    FileNotFound(#[source] scanner::ScanError),
    /// A NUL byte in the file's first 8 KiB.
    #[error("Cannot show a binary file.")]
    Binary,
    /// Over [`SHOW_MAX_FILE_SIZE`].
    #[error("Cannot show the file: file too large.")]
    TooLarge { size: usize },
}
