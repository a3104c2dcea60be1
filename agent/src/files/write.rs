//! `POST /write-file` (`docs/agent-api.md#files`) and the atomic write every
//! file change goes through: a temp file `.<base>.tmp.<8 hex>` in the same
//! directory, created exclusively, given the original's mode, then renamed over
//! the target. Any failure removes the temp file and leaves the original
//! byte-identical.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http::StatusCode;

use crate::Agent;
use crate::http::chat::ChatContext;
use crate::http::error::ApiError;
use crate::seams::IdSource;

use super::fs::Fs;
use super::goerr::{PathError, quote, reason};
use super::resolve::{ResolveError, resolve};

/// How many fresh temp names to try when one is taken.
const TEMP_ATTEMPTS: usize = 4;

/// Validates `path` (absolute) and resolves its symlinks: the target is
/// written and a link survives.
pub(crate) fn resolve_for_write(fs: &dyn Fs, path: &str) -> Result<PathBuf, ApiError> {
    if !Path::new(path).is_absolute() {
        return Err(ApiError::bad_request(format!(
            "file path must be absolute: {}",
            quote(path)
        )));
    }
    resolve(fs, Path::new(path)).map_err(|e| resolve_failed(path, e))
}

pub(crate) fn resolve_failed(path: &str, e: ResolveError) -> ApiError {
    ApiError::internal(format!("resolve symlink {}: {e}", quote(path)))
}

/// Makes the missing parents of `target`.
fn make_parents(fs: &dyn Fs, target: &Path) -> Result<(), ApiError> {
    let Some(dir) = target.parent() else {
        return Ok(());
    };
    fs.create_dir_all(dir).map_err(|e| {
        let status = match e.kind() {
            io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
            io::ErrorKind::NotADirectory => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, PathError::new("mkdir", dir, e).to_string())
    })
}

/// The mode of an existing target (`None` if there is none), refusing a
/// directory or a special file: a rename over a FIFO or a device would
/// replace it with a regular file.
fn existing_mode(fs: &dyn Fs, target: &Path) -> Result<Option<u32>, ApiError> {
    let Ok(meta) = fs.metadata(target) else {
        return Ok(None);
    };
    if meta.is_dir() {
        return Err(ApiError::bad_request(format!(
            "open {}: is a directory",
            target.display()
        )));
    }
    if meta.kind.is_special() {
        return Err(super::read::special_file(target, meta.kind));
    }
    Ok(Some(meta.mode))
}

/// Writes `body` to `path` (as requested) and, on success with a chat
/// context, records the path for the chat and its ancestors.
///
/// The body is taken as a future so that the path is validated before the
/// upload is read, as the original did. A body that fails to arrive (413
/// beyond the limit, else 500) touches nothing: missing parent directories
/// are made only once it has (the original made them first and left them
/// behind). Every file-system step runs through the offload seam.
pub async fn write_file<B>(
    agent: &Agent,
    chat: &ChatContext,
    path: &str,
    body: B,
) -> Result<String, ApiError>
where
    B: std::future::Future<Output = Result<Bytes, BodyError>>,
{
    let fs = agent.seams().fs.clone();
    let (resolved, parent_missing) = {
        let fs = fs.clone();
        let path = path.to_string();
        agent
            .blocking(move || -> Result<(PathBuf, bool), ApiError> {
                let resolved = resolve_for_write(fs.as_ref(), &path)?;
                // A parent that is there (or cannot be, e.g. a file in the
                // way) is answered now, as before; only a missing one waits
                // for the body.
                let parent_missing = resolved.parent().is_some_and(
                    |dir| matches!(fs.metadata(dir), Err(e) if e.kind() == io::ErrorKind::NotFound),
                );
                if !parent_missing {
                    make_parents(fs.as_ref(), &resolved)?;
                }
                existing_mode(fs.as_ref(), &resolved)?;
                Ok((resolved, parent_missing))
            })
            .await?
    };
    // The upload is read before the file's lock is taken, so a slow client
    // does not hold up edits of the file.
    let data = body.await.map_err(|e| match e {
        BodyError::TooLarge => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("write {}: request body too large", resolved.display()),
        ),
        BodyError::Read(why) => ApiError::internal(format!("write {}: {why}", resolved.display())),
    })?;
    if parent_missing {
        let (fs, target) = (fs.clone(), resolved.clone());
        agent
            .blocking(move || make_parents(fs.as_ref(), &target))
            .await?;
    }

    let guards = super::lock_paths(agent, &BTreeSet::from([resolved.clone()])).await;
    let mode = {
        let (fs, target) = (fs.clone(), resolved.clone());
        agent
            .blocking(move || existing_mode(fs.as_ref(), &target))
            .await?
    };
    atomic_write(agent, &resolved, mode, data).await?;
    drop(guards);

    agent
        .paths()
        .add_paths(&chat.chat_and_ancestors(), &[path.to_string()])
        .await;
    Ok(format!("Successfully wrote to {}", quote(path)))
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("request body too large")]
    TooLarge,
    #[error("{0}")]
    Read(String),
}

/// Replaces `path` with `data` through a temp file and a rename, giving the
/// temp file `mode` first when the target existed. Both halves run through
/// the offload seam; the yield point between them is where a concurrent
/// writer could slip in if the file's lock were not held.
pub(crate) async fn atomic_write(
    agent: &Agent,
    path: &Path,
    mode: Option<u32>,
    data: Bytes,
) -> Result<(), ApiError> {
    let len = data.len();
    crate::sim::event("files.write_start", || {
        format!("{} ({len} bytes)", path.display())
    });
    let temp = {
        let fs = agent.seams().fs.clone();
        let ids = agent.seams().ids.clone();
        let target = path.to_path_buf();
        agent
            .blocking(move || write_temp(fs.as_ref(), ids.as_ref(), &target, mode, &data))
            .await?
    };
    crate::yield_point!("files.write.before_rename");
    {
        let fs = agent.seams().fs.clone();
        let target = path.to_path_buf();
        agent
            .blocking(move || rename_into_place(fs.as_ref(), &temp, &target))
            .await?;
    }
    crate::sim::event("files.write", || {
        format!("{} ({} bytes)", path.display(), len)
    });
    Ok(())
}

/// Writes `data` to a fresh temp file beside `path` and gives it `mode`.
fn write_temp(
    fs: &dyn Fs,
    ids: &dyn IdSource,
    path: &Path,
    mode: Option<u32>,
    data: &[u8],
) -> Result<PathBuf, ApiError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let write_failed =
        |e: io::Error| ApiError::internal(format!("write {}: {}", path.display(), reason(&e)));

    let mut temp = None;
    for _ in 0..TEMP_ATTEMPTS {
        let candidate = dir.join(format!(".{base}.tmp.{}", temp_suffix(ids)));
        match fs.write_new(&candidate, data) {
            Ok(()) => {
                temp = Some(candidate);
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                // The name was fresh, so anything there is our partial write.
                let _ = fs.remove_file(&candidate);
                return Err(match e.kind() {
                    io::ErrorKind::PermissionDenied => ApiError::new(
                        StatusCode::FORBIDDEN,
                        PathError::new("open", &candidate, e).to_string(),
                    ),
                    _ => write_failed(e),
                });
            }
        }
    }
    let Some(temp) = temp else {
        return Err(write_failed(io::Error::from(io::ErrorKind::AlreadyExists)));
    };
    if let Some(Err(e)) = mode.map(|m| fs.set_mode(&temp, m)) {
        tracing::warn!(path = %path.display(), error = %e, "unable to set file permissions");
    }
    Ok(temp)
}

/// Renames `temp` over `path`; on failure removes `temp`.
fn rename_into_place(fs: &dyn Fs, temp: &Path, path: &Path) -> Result<(), ApiError> {
    let Err(e) = fs.rename(temp, path) else {
        return Ok(());
    };
    if let Err(cleanup) = fs.remove_file(temp) {
        tracing::warn!(path = %temp.display(), error = %cleanup, "unable to clean up temp file");
    }
    let status = match e.kind() {
        io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    Err(ApiError::new(
        status,
        format!("write {}: {}", path.display(), reason(&e)),
    ))
}

/// Eight hex characters from the id source (random for real, seeded under
/// simulation). The id's tail is used: for uuids it is random, for the
/// sequential test ids it is the counter.
fn temp_suffix(ids: &dyn IdSource) -> String {
    let hex: Vec<char> = ids
        .next_id()
        .chars()
        .filter(char::is_ascii_hexdigit)
        .collect();
    let tail = &hex[hex.len().saturating_sub(8)..];
    let mut s: String = tail.iter().collect();
    while s.len() < 8 {
        s.insert(0, '0');
    }
    s.make_ascii_lowercase();
    s
}
