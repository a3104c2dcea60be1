//! `POST /edit-files` (`docs/agent-api.md#files`): two-phase search/replace
//! over one or more files.
//!
//! Phase 1 validates every entry, resolves its symlinks, reads the file and
//! applies its edits in memory; errors from all entries are collected (one
//! message per entry, joined with `\n`, the most severe wins) and nothing
//! is written unless every entry validates. Phase 2 writes each file
//! atomically, keeping its mode; a failure there returns at once (files
//! written before stay written: there is no cross-file transaction).
//!
//! Entries naming one file by the same path once cleaned (`/d/a`, `/d/./a`,
//! `/d/x/../a`) are merged: one read, their edits applied in request order,
//! one write. Two entries that reach one file by different paths (a symlink
//! and its target) are refused with an `aliases` message and nothing is
//! written: merging them would hide an aliasing the caller did not mean.
//! The original read the file once per entry and the later write silently
//! dropped the earlier entry's edits (race R9 in `docs/races.md`). The
//! files' locks are held from the read in phase 1 to the last write of
//! phase 2, so concurrent requests cannot lose each other's updates.
//!
//! The work takes only what it needs ([`EditContext`]: the file system,
//! the offload seam, the file locks, a writer, the limits) and fails with
//! the domain [`EditError`]; `http::edit` turns that into the HTTP answer.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use uuid::Uuid;

use crate::git::PathStore;
use crate::seams::offload;

use super::fs::{Fs, refused_kind};
use super::goerr::{PathError, lossy_per_byte, quote};
use super::read::SpecialFile;
use super::resolve::{clean, resolve};
use super::wire::{EditFilesRequest, EditFilesResponse, FileEdit, FileEditResult};
use super::write::{WriteError, replace};
use super::{ErrorClass, FileIo};

/// The success message of the original API.
pub const EDITED: &str = "Successfully edited file(s)";

/// How bad a failed edit is, least to most; the worst of a request's
/// failures is the answer's. The file domain's shared classes.
pub use super::ErrorClass as EditErrorKind;

/// Why an edit-files request failed; the message is what the model reads.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EditError {
    pub kind: EditErrorKind,
    pub message: String,
}

impl EditError {
    fn invalid(message: impl Into<String>) -> Self {
        EditError {
            kind: EditErrorKind::Invalid,
            message: message.into(),
        }
    }

    fn of(kind: EditErrorKind, message: impl Into<String>) -> Self {
        EditError {
            kind,
            message: message.into(),
        }
    }
}

/// A failed write keeps its class and message.
impl From<WriteError> for EditError {
    fn from(e: WriteError) -> Self {
        EditError::of(e.class(), e.to_string())
    }
}

/// A special file is the caller's mistake.
impl From<SpecialFile> for EditError {
    fn from(e: SpecialFile) -> Self {
        EditError::invalid(e.to_string())
    }
}

/// The request's limits, copied out of the config for the offloaded work.
#[derive(Clone, Copy, Debug)]
pub struct EditLimits {
    /// The largest file that is read for editing.
    pub max_read: u64,
    /// The largest edited result.
    pub max_result: u64,
    /// The most bytes (before plus after) a diff is computed for.
    pub max_diff_input: u64,
}

impl EditLimits {
    /// The limits of an agent's configuration.
    pub fn of(config: &crate::AgentConfig) -> Self {
        EditLimits {
            max_read: config.max_read_size,
            max_result: config.max_edit_result,
            max_diff_input: config.max_diff_input,
        }
    }
}

/// What an edit needs and nothing more: the file seams, locks and switches,
/// the chats' path store (edited paths are recorded for their git watch),
/// and the limits.
#[derive(Clone, Copy)]
pub struct EditContext<'a> {
    pub io: FileIo<'a>,
    pub paths: &'a PathStore,
    pub limits: EditLimits,
}

impl EditContext<'_> {
    async fn blocking<T, F>(&self, work: F) -> T
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        offload(self.io.offload.as_ref(), work).await
    }
}

/// One file to edit: the first entry that named it, and every entry's
/// edits in request order.
struct Target {
    index: usize,
    /// The path as first given, cleaned: how a later entry is told to be
    /// the same name rather than an alias.
    cleaned: PathBuf,
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

/// A failed entry: its position in the request and its error.
struct Failure {
    index: usize,
    error: EditError,
}

/// What resolving the entries found, besides the targets.
#[derive(Default)]
struct Resolved {
    targets: Vec<Target>,
    failures: Vec<Failure>,
    merged: bool,
    aliased: bool,
}

/// Applies the request; see the module docs. The file-system work and the
/// matcher run through the offload seam, in three jobs: resolve, read and
/// edit (under the locks), then each write. `chats` are the requesting
/// chat and its ancestors, whose git watch learns the edited paths.
pub async fn edit_files(
    cx: &EditContext<'_>,
    chats: &[Uuid],
    req: &EditFilesRequest,
) -> Result<EditFilesResponse, EditError> {
    if req.files.is_empty() {
        return Err(EditError::invalid("must specify at least one file"));
    }
    let limits = cx.limits;

    // Phase 1a: validate and resolve, without reading.
    let entries: Vec<(String, Vec<FileEdit>)> = req
        .files
        .iter()
        .map(|f| (f.path.clone(), f.edits.clone()))
        .collect();
    let Resolved {
        targets,
        mut failures,
        merged,
        aliased,
    } = {
        let fs = cx.io.fs.clone();
        cx.blocking(move || resolve_entries(fs.as_ref(), entries))
            .await
    };
    // Marked here, not in the offloaded job: coverage marks are per thread.
    if aliased {
        cov_mark::hit!(edit_duplicate_path_rejected);
    }
    if merged {
        cov_mark::hit!(edit_duplicate_path_merged);
    }

    // Phase 1b: under the files' locks, read and edit in memory.
    // In request order: `lock_all` sorts them (R17).
    let paths: Vec<PathBuf> = targets.iter().map(|t| t.resolved.clone()).collect();
    let guards = cx.io.locks.lock_all(&paths, cx.io.bugs).await;
    let (pending, prepare_failures) = {
        let fs = cx.io.fs.clone();
        cx.blocking(move || {
            let mut pending = Vec::new();
            let mut failures = Vec::new();
            for target in &targets {
                match prepare(fs.as_ref(), target, limits) {
                    Ok(p) => pending.push(p),
                    Err(error) => failures.push(Failure {
                        index: target.index,
                        error,
                    }),
                }
            }
            (pending, failures)
        })
        .await
    };
    failures.extend(prepare_failures);
    if !failures.is_empty() {
        failures.sort_by_key(|f| f.index);
        let kind = failures
            .iter()
            .map(|f| f.error.kind)
            .max()
            .unwrap_or(EditErrorKind::Invalid);
        let message = failures
            .iter()
            .map(|f| f.error.message.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        return Err(EditError { kind, message });
    }

    // Phase 2: write.
    crate::yield_point!("files.edit.between_read_and_write");
    for p in &pending {
        replace(&cx.io, &p.resolved, Some(p.mode), p.edited.clone()).await?;
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
    cx.paths.add_paths(chats, &requested).await;

    let files = if req.include_diff {
        let names: Vec<String> = pending
            .iter()
            .map(|p| req.files[p.index].path.clone())
            .collect();
        Some(
            cx.blocking(move || diffs(&names, &pending, limits.max_diff_input))
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

/// Validates every entry and resolves its symlinks; entries for one file
/// by one cleaned name merge into the first, an alias by another name
/// fails.
fn resolve_entries(fs: &dyn Fs, entries: Vec<(String, Vec<FileEdit>)>) -> Resolved {
    let mut out = Resolved::default();
    // Resolved path -> its target's position in `out.targets`.
    let mut seen: BTreeMap<PathBuf, usize> = BTreeMap::new();
    let mut first_names: Vec<String> = Vec::new();
    for (index, (path, edits)) in entries.into_iter().enumerate() {
        let mut fail = |error: EditError| out.failures.push(Failure { index, error });
        if path.is_empty() {
            fail(EditError::invalid("\"path\" is required"));
            continue;
        }
        if path.contains('\0') {
            fail(EditError::invalid(format!(
                "file path must not contain NUL bytes: {}",
                quote(&path)
            )));
            continue;
        }
        if !Path::new(&path).is_absolute() {
            fail(EditError::invalid(format!(
                "file path must be absolute: {}",
                quote(&path)
            )));
            continue;
        }
        if edits.is_empty() {
            fail(EditError::invalid("must specify at least one edit"));
            continue;
        }
        let resolved = match resolve(fs, Path::new(&path)) {
            Ok(r) => r,
            Err(e) => {
                fail(
                    WriteError::Resolve {
                        path: path.clone(),
                        source: e,
                    }
                    .into(),
                );
                continue;
            }
        };
        let cleaned = clean(Path::new(&path));
        if let Some(&at) = seen.get(&resolved) {
            let target = &mut out.targets[at];
            if target.cleaned == cleaned {
                target.edits.extend(edits);
                out.merged = true;
            } else {
                out.aliased = true;
                fail(EditError::invalid(format!(
                    "duplicate file path {} aliases {} (same real file): combine edits into a \
                     single entry's \"edits\" list",
                    quote(&path),
                    quote(&first_names[at])
                )));
            }
            continue;
        }
        seen.insert(resolved.clone(), out.targets.len());
        first_names.push(path);
        out.targets.push(Target {
            index,
            cleaned,
            resolved,
            edits,
        });
    }
    out
}

/// Reads one target (a regular file of at most `max_read` bytes, counted
/// as read) and applies its edits; a result over `max_result` bytes is 413,
/// found before the result is allocated.
fn prepare(fs: &dyn Fs, target: &Target, limits: EditLimits) -> Result<Pending, EditError> {
    let path = &target.resolved;
    let opened = |e: io::Error| {
        if let Some(kind) = refused_kind(&e) {
            return SpecialFile::new(path, kind).into();
        }
        let e = PathError::new("open", path, e);
        EditError::of(ErrorClass::of_io(e.kind()), e.to_string())
    };
    let meta = fs.metadata(path).map_err(opened)?;
    if meta.is_dir() {
        return Err(EditError::invalid(format!(
            "open {}: not a file",
            path.display()
        )));
    }
    if meta.kind.is_special() {
        return Err(SpecialFile::new(path, meta.kind).into());
    }
    let too_large = |size: String| {
        EditError::of(
            EditErrorKind::TooLarge,
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
            _ => EditError::of(
                EditErrorKind::Internal,
                PathError::new("read", path, e).to_string(),
            ),
        })?;
    if original.len() as u64 > limits.max_read {
        return Err(too_large(format!("more than {}", limits.max_read)));
    }
    let max_result = usize::try_from(limits.max_result).unwrap_or(usize::MAX);
    let edited = super::fuzzy::apply_edits(&original, &target.edits, max_result).map_err(|e| {
        let kind = match e {
            super::fuzzy::MatchError::TooLarge { .. } => EditErrorKind::TooLarge,
            _ => EditErrorKind::Invalid,
        };
        EditError::of(kind, format!("edit {}: {e}", path.display()))
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
