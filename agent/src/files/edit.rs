//! `POST /edit-files` (`docs/agent-api.md#files`): two-phase search/replace
//! over one or more files.
//!
//! Phase 1 validates every entry, resolves its symlinks, reads the file and
//! applies its edits in memory; errors from all entries are collected (one
//! message per entry, joined with `\n`, the highest status wins) and nothing
//! is written unless every entry validates. Phase 2 writes each file
//! atomically, keeping its mode; a failure there returns at once (files
//! written before stay written: there is no cross-file transaction).
//!
//! Fixed here: two entries naming one file, directly or through a symlink, are
//! rejected (race R9 in `docs/races.md`; the original let the later write
//! silently drop the earlier entry's edits), and the files' locks are held from
//! the read in phase 1 to the last write of phase 2, so concurrent requests
//! cannot lose each other's updates.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::StatusCode;

use crate::Agent;
use crate::http::chat::ChatContext;
use crate::http::error::ApiError;

use super::fs::{Fs, refused_kind};
use super::goerr::{PathError, lossy_per_byte, quote};
use super::read::special_file;
use super::resolve::resolve;
use super::wire::{EditFilesRequest, EditFilesResponse, FileEdit, FileEditResult};
use super::write::{atomic_write, resolve_failed};

/// The success message of the original API.
pub const EDITED: &str = "Successfully edited file(s)";

/// One entry that passed validation and resolution.
struct Target {
    index: usize,
    resolved: PathBuf,
    edits: Vec<FileEdit>,
}

/// One file ready to be written.
struct Pending {
    index: usize,
    resolved: PathBuf,
    mode: u32,
    original: Vec<u8>,
    edited: Bytes,
}

/// A failed entry: its position in the request, status and message.
struct Failure {
    index: usize,
    status: StatusCode,
    message: String,
    /// A second entry for an already named file.
    duplicate: bool,
}

impl Failure {
    fn new(index: usize, e: ApiError) -> Self {
        Failure {
            index,
            status: e.status,
            message: e.body.message,
            duplicate: false,
        }
    }
}

/// The request's limits, copied out of the config for the offloaded work.
#[derive(Clone, Copy)]
struct Limits {
    max_read: u64,
    max_result: u64,
    max_diff_input: u64,
}

/// Applies the request; see the module docs. The file-system work and the
/// matcher run through the offload seam, in three jobs: resolve, read and
/// edit (under the locks), then each write.
pub async fn edit_files(
    agent: &Agent,
    chat: &ChatContext,
    req: &EditFilesRequest,
) -> Result<EditFilesResponse, ApiError> {
    if req.files.is_empty() {
        return Err(ApiError::bad_request("must specify at least one file"));
    }
    let config = agent.config();
    let limits = Limits {
        max_read: config.max_read_size,
        max_result: config.max_edit_result,
        max_diff_input: config.max_diff_input,
    };
    let fs = agent.seams().fs.clone();

    // Phase 1a: validate and resolve, without reading.
    let entries: Vec<(String, Vec<FileEdit>)> = req
        .files
        .iter()
        .map(|f| (f.path.clone(), f.edits.clone()))
        .collect();
    let (targets, mut failures) = {
        let fs = fs.clone();
        agent
            .blocking(move || resolve_entries(fs.as_ref(), entries))
            .await
    };
    // Marked here, not in the offloaded job: coverage marks are per thread.
    if failures.iter().any(|f| f.duplicate) {
        cov_mark::hit!(edit_duplicate_path_rejected);
    }

    // Phase 1b: under the files' locks, read and edit in memory.
    let paths: BTreeSet<PathBuf> = targets.iter().map(|t| t.resolved.clone()).collect();
    let guards = super::lock_paths(agent, &paths).await;
    let (pending, prepare_failures) = {
        let fs = fs.clone();
        agent
            .blocking(move || {
                let mut pending = Vec::new();
                let mut failures = Vec::new();
                for target in &targets {
                    match prepare(fs.as_ref(), target, limits) {
                        Ok(p) => pending.push(p),
                        Err(e) => failures.push(Failure::new(target.index, e)),
                    }
                }
                (pending, failures)
            })
            .await
    };
    failures.extend(prepare_failures);
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
        atomic_write(agent, &p.resolved, Some(p.mode), p.edited.clone()).await?;
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

    let files = if req.include_diff {
        let names: Vec<String> = pending
            .iter()
            .map(|p| req.files[p.index].path.clone())
            .collect();
        Some(
            agent
                .blocking(move || diffs(&names, &pending, limits.max_diff_input))
                .await,
        )
    } else {
        None
    };
    Ok(EditFilesResponse {
        message: Some(EDITED.to_string()),
        files,
    })
}

/// Validates every entry and resolves its symlinks; returns the targets and
/// the entries that failed.
fn resolve_entries(
    fs: &dyn Fs,
    entries: Vec<(String, Vec<FileEdit>)>,
) -> (Vec<Target>, Vec<Failure>) {
    let mut targets: Vec<Target> = Vec::new();
    let mut failures: Vec<Failure> = Vec::new();
    let mut seen: BTreeMap<PathBuf, usize> = BTreeMap::new();
    let bad = |index: usize, message: String| Failure {
        index,
        status: StatusCode::BAD_REQUEST,
        message,
        duplicate: false,
    };
    for (index, (path, edits)) in entries.into_iter().enumerate() {
        if path.is_empty() {
            failures.push(bad(index, "\"path\" is required".into()));
            continue;
        }
        if path.contains('\0') {
            failures.push(bad(
                index,
                format!("file path must not contain NUL bytes: {}", quote(&path)),
            ));
            continue;
        }
        if !Path::new(&path).is_absolute() {
            let msg = format!("file path must be absolute: {}", quote(&path));
            failures.push(bad(index, msg));
            continue;
        }
        if edits.is_empty() {
            failures.push(bad(index, "must specify at least one edit".into()));
            continue;
        }
        let resolved = match resolve(fs, Path::new(&path)) {
            Ok(r) => r,
            Err(e) => {
                failures.push(Failure::new(index, resolve_failed(&path, e)));
                continue;
            }
        };
        if seen.insert(resolved.clone(), index).is_some() {
            let msg = format!(
                "duplicate file path {}: combine edits into a single entry's \"edits\" list",
                quote(&path)
            );
            failures.push(Failure {
                duplicate: true,
                ..bad(index, msg)
            });
            continue;
        }
        targets.push(Target {
            index,
            resolved,
            edits,
        });
    }
    (targets, failures)
}

/// Reads one target (a regular file of at most `max_read` bytes, counted
/// as read) and applies its edits; a result over `max_result` bytes is 413,
/// found before the result is allocated.
fn prepare(fs: &dyn Fs, target: &Target, limits: Limits) -> Result<Pending, ApiError> {
    let path = &target.resolved;
    let opened = |e: io::Error| {
        if let Some(kind) = refused_kind(&e) {
            return special_file(path, kind);
        }
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
    if meta.kind.is_special() {
        return Err(special_file(path, meta.kind));
    }
    let too_large = |size: String| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "edit {}: the file is {size} bytes, more than the maximum of {} bytes that can \
                 be edited",
                path.display(),
                limits.max_read
            ),
        )
    };
    if meta.len > limits.max_read {
        return Err(too_large(meta.len.to_string()));
    }
    let original = fs
        .read_range(path, 0, Some(limits.max_read.saturating_add(1)))
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => opened(e),
            _ if refused_kind(&e).is_some() => opened(e),
            _ => ApiError::internal(PathError::new("read", path, e).to_string()),
        })?;
    if original.len() as u64 > limits.max_read {
        return Err(too_large(format!("more than {}", limits.max_read)));
    }
    let max_result = usize::try_from(limits.max_result).unwrap_or(usize::MAX);
    let edited = super::fuzzy::apply_edits(&original, &target.edits, max_result).map_err(|e| {
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
        edited: Bytes::from(edited),
    })
}

/// The diffs of an include_diff answer. A diff of large files costs time
/// and memory out of proportion to what a model can read, so beyond
/// `max_input` bytes (original plus edited) it is left out with a note.
fn diffs(names: &[String], pending: &[Pending], max_input: u64) -> Vec<FileEditResult> {
    names
        .iter()
        .zip(pending)
        .map(|(path, p)| {
            let input = (p.original.len() + p.edited.len()) as u64;
            if input > max_input {
                return FileEditResult {
                    path: path.clone(),
                    diff: String::new(),
                    note: Some(format!(
                        "diff omitted: the file before and after the edit is {input} bytes, \
                         more than the {max_input} bytes a diff is computed for; read the \
                         changed region with read_file"
                    )),
                };
            }
            FileEditResult {
                path: path.clone(),
                diff: unified_diff(path, &p.original, &p.edited),
                note: None,
            }
        })
        .collect()
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
