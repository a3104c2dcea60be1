//! `POST /write-file` (`docs/agent-api.md#files`) and the atomic write every
//! file change goes through: a temp file `.<base>.tmp.<8 hex>` in the same
//! directory, created exclusively, given the original's mode, then renamed over
//! the target. Any failure removes the temp file and leaves the original
//! byte-identical.

use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::seams::{IdSource, offload};

use super::fs::Fs;
use super::goerr::{PathError, quote, reason};
use super::read::SpecialFile;
use super::resolve::{ResolveError, resolve};
use super::{ErrorClass, FileIo};

/// How many fresh temp names to try when one is taken.
const TEMP_ATTEMPTS: usize = 4;

/// Why a write failed; the HTTP layer turns it into the error envelope.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("file path must be absolute: {}", quote(.0))]
    NotAbsolute(String),
    #[error("resolve symlink {}: {source}", quote(.path))]
    Resolve {
        path: String,
        #[source]
        source: ResolveError,
    },
    /// Making a missing parent directory failed.
    #[error(transparent)]
    Mkdir(PathError),
    #[error("open {}: is a directory", .0.display())]
    IsADirectory(PathBuf),
    #[error(transparent)]
    Special(#[from] SpecialFile),
    /// The request body went over the limit.
    #[error("write {}: request body too large", .0.display())]
    BodyTooLarge(PathBuf),
    /// The request body could not be read.
    #[error("write {}: {why}", .path.display())]
    BodyRead { path: PathBuf, why: String },
    /// The temp file could not be created: permission denied.
    #[error(transparent)]
    TempDenied(PathError),
    /// Writing the temp file or renaming it into place failed.
    #[error("write {}: {}", .path.display(), reason(.source))]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl WriteError {
    /// The caller's mistakes (a relative path, a directory or special file
    /// in the way, a file where a parent directory should be) are invalid,
    /// a denied directory or file forbidden, a body over the limit too
    /// large, the rest internal.
    pub fn class(&self) -> ErrorClass {
        let denied_or = |kind: io::ErrorKind| match kind {
            io::ErrorKind::PermissionDenied => ErrorClass::Forbidden,
            _ => ErrorClass::Internal,
        };
        match self {
            WriteError::NotAbsolute(_) | WriteError::IsADirectory(_) | WriteError::Special(_) => {
                ErrorClass::Invalid
            }
            WriteError::Resolve { .. } | WriteError::BodyRead { .. } => ErrorClass::Internal,
            WriteError::Mkdir(mkdir) => match mkdir.kind() {
                io::ErrorKind::NotADirectory => ErrorClass::Invalid,
                kind => denied_or(kind),
            },
            WriteError::BodyTooLarge(_) => ErrorClass::TooLarge,
            WriteError::TempDenied(_) => ErrorClass::Forbidden,
            WriteError::Write { source, .. } => denied_or(source.kind()),
        }
    }
}

/// Validates `path` (absolute) and resolves its symlinks: the target is
/// written and a link survives.
pub(crate) fn resolve_for_write(fs: &dyn Fs, path: &str) -> Result<PathBuf, WriteError> {
    if !Path::new(path).is_absolute() {
        return Err(WriteError::NotAbsolute(path.to_string()));
    }
    resolve(fs, Path::new(path)).map_err(|source| WriteError::Resolve {
        path: path.to_string(),
        source,
    })
}

/// Makes the missing parents of `target`.
fn make_parents(fs: &dyn Fs, target: &Path) -> Result<(), WriteError> {
    let Some(dir) = target.parent() else {
        return Ok(());
    };
    fs.create_dir_all(dir)
        .map_err(|e| WriteError::Mkdir(PathError::new("mkdir", dir, e)))
}

/// The mode of an existing target (`None` if there is none), refusing a
/// directory or a special file: a rename over a FIFO or a device would
/// replace it with a regular file.
fn existing_mode(fs: &dyn Fs, target: &Path) -> Result<Option<u32>, WriteError> {
    let Ok(meta) = fs.metadata(target) else {
        return Ok(None);
    };
    if meta.is_dir() {
        return Err(WriteError::IsADirectory(target.to_path_buf()));
    }
    if meta.kind.is_special() {
        return Err(SpecialFile::new(target, meta.kind).into());
    }
    Ok(Some(meta.mode))
}

/// Writes `body` to `path` (as requested); returns the success message.
///
/// The body is taken as a future so that the path is validated before the
/// upload is read, as the original did. A body that fails to arrive (413
/// beyond the limit, else 500) touches nothing: missing parent directories
/// are made only once it has (the original made them first and left them
/// behind). Every file-system step runs through the offload seam.
pub async fn write_file<B>(files: &FileIo<'_>, path: &str, body: B) -> Result<String, WriteError>
where
    B: std::future::Future<Output = Result<Bytes, BodyError>>,
{
    let fs = files.fs.clone();
    let (resolved, parent_missing) = {
        let fs = fs.clone();
        let path = path.to_string();
        offload(
            files.offload.as_ref(),
            move || -> Result<(PathBuf, bool), WriteError> {
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
            },
        )
        .await?
    };
    // The upload is read before the file's lock is taken, so a slow client
    // does not hold up edits of the file.
    let data = body.await.map_err(|e| match e {
        BodyError::TooLarge => WriteError::BodyTooLarge(resolved.clone()),
        BodyError::Read(why) => WriteError::BodyRead {
            path: resolved.clone(),
            why,
        },
    })?;
    if parent_missing {
        let (fs, target) = (fs.clone(), resolved.clone());
        offload(files.offload.as_ref(), move || {
            make_parents(fs.as_ref(), &target)
        })
        .await?;
    }

    let guards = files
        .locks
        .lock_all(std::slice::from_ref(&resolved), files.bugs)
        .await;
    let mode = {
        let (fs, target) = (fs.clone(), resolved.clone());
        offload(files.offload.as_ref(), move || {
            existing_mode(fs.as_ref(), &target)
        })
        .await?
    };
    replace(files, &resolved, mode, data).await?;
    drop(guards);
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
pub async fn replace(
    files: &FileIo<'_>,
    path: &Path,
    mode: Option<u32>,
    data: Bytes,
) -> Result<(), WriteError> {
    let len = data.len();
    crate::sim::event("files.write_start", || {
        format!("{} ({len} bytes)", path.display())
    });
    let temp = {
        let fs = files.fs.clone();
        let ids = files.ids.clone();
        let target = path.to_path_buf();
        offload(files.offload.as_ref(), move || {
            write_temp(fs.as_ref(), ids.as_ref(), &target, mode, &data)
        })
        .await?
    };
    crate::yield_point!("files.write.before_rename");
    {
        let fs = files.fs.clone();
        let target = path.to_path_buf();
        offload(files.offload.as_ref(), move || {
            rename_into_place(fs.as_ref(), &temp, &target)
        })
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
) -> Result<PathBuf, WriteError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let base = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let write_failed = |source: io::Error| WriteError::Write {
        path: path.to_path_buf(),
        source,
    };

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
                    io::ErrorKind::PermissionDenied => {
                        WriteError::TempDenied(PathError::new("open", &candidate, e))
                    }
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
fn rename_into_place(fs: &dyn Fs, temp: &Path, path: &Path) -> Result<(), WriteError> {
    let Err(source) = fs.rename(temp, path) else {
        return Ok(());
    };
    if let Err(cleanup) = fs.remove_file(temp) {
        tracing::warn!(path = %temp.display(), error = %cleanup, "unable to clean up temp file");
    }
    Err(WriteError::Write {
        path: path.to_path_buf(),
        source,
    })
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
