//! `POST /edit-files` (spec 4.4): two-phase search/replace over one or more
//! files.
//!
//! Phase 1 validates every entry, resolves its symlinks, reads the file and
//! applies its edits in memory; errors from all entries are collected (one
//! message per entry, joined with `\n`, the highest status wins) and nothing
//! is written unless every entry validates. Phase 2 writes each file
//! atomically, keeping its mode; a failure there returns at once (files
//! written before stay written: there is no cross-file transaction).
//!
//! Fixed here: two entries naming one file, directly or through a symlink,
//! are rejected (R9; the original let the later write silently drop the
//! earlier entry's edits), and the files' locks are held from the read in
//! phase 1 to the last write of phase 2, so concurrent requests cannot lose
//! each other's updates.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use http::StatusCode;

use crate::Agent;
use crate::http::chat::ChatContext;
use crate::http::error::ApiError;

use super::goerr::{PathError, lossy_per_byte, quote};
use super::resolve::resolve;
use super::wire::{EditFilesRequest, EditFilesResponse, FileEdit, FileEditResult};
use super::write::{atomic_write, resolve_failed};

/// The success message of the original API.
pub const EDITED: &str = "Successfully edited file(s)";

/// One entry that passed validation and resolution.
struct Target<'r> {
    index: usize,
    resolved: PathBuf,
    edits: &'r [FileEdit],
}

/// One file ready to be written.
struct Pending {
    index: usize,
    resolved: PathBuf,
    mode: u32,
    original: Vec<u8>,
    edited: Vec<u8>,
}

/// A failed entry: its position in the request, status and message.
struct Failure {
    index: usize,
    status: StatusCode,
    message: String,
}

/// Applies the request; see the module docs.
pub async fn edit_files(
    agent: &Agent,
    chat: &ChatContext,
    req: &EditFilesRequest,
) -> Result<EditFilesResponse, ApiError> {
    if req.files.is_empty() {
        return Err(ApiError::bad_request("must specify at least one file"));
    }
    let fs = agent.seams().fs.clone();
    let mut failures: Vec<Failure> = Vec::new();
    let mut fail = |index: usize, status: StatusCode, message: String| {
        failures.push(Failure {
            index,
            status,
            message,
        });
    };

    // Phase 1a: validate and resolve, without reading.
    let mut targets: Vec<Target<'_>> = Vec::new();
    let mut seen: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for (index, entry) in req.files.iter().enumerate() {
        let bad = StatusCode::BAD_REQUEST;
        if entry.path.is_empty() {
            fail(index, bad, "\"path\" is required".into());
            continue;
        }
        if !Path::new(&entry.path).is_absolute() {
            let msg = format!("file path must be absolute: {}", quote(&entry.path));
            fail(index, bad, msg);
            continue;
        }
        if entry.edits.is_empty() {
            fail(index, bad, "must specify at least one edit".into());
            continue;
        }
        let resolved = match resolve(fs.as_ref(), Path::new(&entry.path)) {
            Ok(r) => r,
            Err(e) => {
                let e = resolve_failed(&entry.path, e);
                fail(index, e.status, e.body.message);
                continue;
            }
        };
        if seen.insert(resolved.clone(), index).is_some() {
            cov_mark::hit!(edit_duplicate_path_rejected);
            let msg = format!(
                "duplicate file path {}: combine edits into a single entry's \"edits\" list",
                quote(&entry.path)
            );
            fail(index, bad, msg);
            continue;
        }
        targets.push(Target {
            index,
            resolved,
            edits: &entry.edits,
        });
    }

    // Phase 1b: under the files' locks, read and edit in memory.
    let paths: BTreeSet<PathBuf> = targets.iter().map(|t| t.resolved.clone()).collect();
    let guards = super::lock_paths(agent, &paths).await;
    let max_result = usize::try_from(agent.config().max_edit_result).unwrap_or(usize::MAX);
    let mut pending: Vec<Pending> = Vec::new();
    for target in &targets {
        match prepare(fs.as_ref(), target, max_result) {
            Ok(p) => pending.push(p),
            Err(e) => fail(target.index, e.status, e.body.message),
        }
    }
    if !failures.is_empty() {
        failures.sort_by_key(|f| f.index);
        let status = failures
            .iter()
            .map(|f| f.status)
            .max()
            .unwrap_or(StatusCode::BAD_REQUEST);
        let message = failures
            .iter()
            .map(|f| f.message.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        return Err(ApiError::new(status, message));
    }

    // Phase 2: write.
    crate::yield_point!("files.edit.between_read_and_write");
    for p in &pending {
        atomic_write(agent, &p.resolved, Some(p.mode), &p.edited).await?;
    }
    drop(guards);
    crate::sim::event("files.edit", || {
        pending
            .iter()
            .map(|p| p.resolved.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    });

    let requested: Vec<String> = req.files.iter().map(|f| f.path.clone()).collect();
    agent
        .paths()
        .add_paths(&chat.chat_and_ancestors(), &requested)
        .await;

    let files = req.include_diff.then(|| {
        pending
            .iter()
            .map(|p| {
                let path = req.files[p.index].path.clone();
                let diff = unified_diff(&path, &p.original, &p.edited);
                FileEditResult { path, diff }
            })
            .collect()
    });
    Ok(EditFilesResponse {
        message: Some(EDITED.to_string()),
        files,
    })
}

/// Reads one target and applies its edits; a result over `max_result` bytes
/// is 413.
fn prepare(
    fs: &dyn super::fs::Fs,
    target: &Target<'_>,
    max_result: usize,
) -> Result<Pending, ApiError> {
    let path = &target.resolved;
    let opened = |e: io::Error| {
        let e = PathError::new("open", path, e);
        ApiError::new(e.open_status(), e.to_string())
    };
    let meta = fs.metadata(path).map_err(opened)?;
    if meta.is_dir() {
        return Err(ApiError::bad_request(format!(
            "open {}: not a file",
            path.display()
        )));
    }
    let original = fs.read(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => opened(e),
        _ => ApiError::internal(PathError::new("read", path, e).to_string()),
    })?;
    let edited = super::fuzzy::apply_edits(&original, target.edits, max_result).map_err(|e| {
        let status = match e {
            super::fuzzy::MatchError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, format!("edit {}: {e}", path.display()))
    })?;
    Ok(Pending {
        index: target.index,
        resolved: path.clone(),
        mode: meta.mode,
        original,
        edited,
    })
}

/// A unified diff with 3 lines of context and `--- <path>` / `+++ <path>`
/// headers; empty when nothing changed.
pub fn unified_diff(path: &str, original: &[u8], edited: &[u8]) -> String {
    if original == edited {
        return String::new();
    }
    let old = lossy_per_byte(original);
    let new = lossy_per_byte(edited);
    similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(path, path)
        .to_string()
}
