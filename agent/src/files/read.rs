//! `GET /read-file-lines` and `GET /read-file` (`docs/agent-api.md#files`).

use std::io;
use std::path::{Path, PathBuf};

use super::fs::{FileKind, Fs, refused_kind};
use super::goerr::{PathError, quote};
use super::lines::{failure, number_lines};
use super::wire::{ReadFileLinesLimits, ReadFileLinesResponse};

/// A path that is a FIFO, socket or device: reading one can block forever or
/// never end, so the file API only reads (and replaces) regular files.
#[derive(Debug, thiserror::Error)]
#[error(
    "open {}: {} is not a regular file; only regular files can be read or edited",
    .path.display(),
    .kind.describe()
)]
pub struct SpecialFile {
    pub path: PathBuf,
    pub kind: FileKind,
}

impl SpecialFile {
    pub fn new(path: &Path, kind: FileKind) -> Self {
        cov_mark::hit!(special_file_refused);
        SpecialFile {
            path: path.to_path_buf(),
            kind,
        }
    }
}

/// Why a read failed; the HTTP layer turns it into the error envelope.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("file path must be absolute: {}", quote(.0))]
    NotAbsolute(String),
    #[error(transparent)]
    Special(#[from] SpecialFile),
    #[error("open {0}: not a file")]
    NotAFile(String),
    /// Opening or reading failed (the status follows the error's kind).
    #[error(transparent)]
    Open(PathError),
    /// The range asked for is larger than one answer may be.
    #[error(
        "read {path}: the range asked for is {want} bytes, more than the maximum of \
         {max_read} bytes per request. Read the file in parts with the offset and limit \
         query parameters."
    )]
    RangeTooLarge {
        path: String,
        want: u64,
        max_read: u64,
    },
}

/// Reads `path` for the LLM. Every failure is an unsuccessful answer (the
/// handler still says 200), never a partial one, except a special file
/// (400). The file is read up to `max_read` bytes (or the caller's
/// `max_file_size`, if smaller): the size a `stat` reports is only used for
/// the message, so `/proc` files and swaps between stat and read stay
/// bounded too.
pub fn read_file_lines(
    fs: &dyn Fs,
    path: &str,
    offset: u64,
    limit: u64,
    limits: &ReadFileLinesLimits,
    max_read: u64,
) -> Result<ReadFileLinesResponse, SpecialFile> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Ok(failure(format!(
            "file path must be absolute: {}",
            quote(path)
        )));
    }
    let opened = |e: io::Error| match e.kind() {
        io::ErrorKind::NotFound => failure(format!("file does not exist: {path}")),
        io::ErrorKind::PermissionDenied => failure(format!("permission denied: {path}")),
        _ => failure(format!("open file: {}", PathError::new("open", p, e))),
    };
    let meta = match fs.metadata(p) {
        Ok(m) => m,
        Err(e) => return Ok(opened(e)),
    };
    if meta.is_dir() {
        return Ok(failure(format!("not a file: {path}")));
    }
    if meta.kind.is_special() {
        return Err(SpecialFile::new(p, meta.kind));
    }
    let cap = limits.max_file_size.min(max_read);
    let too_large = |size: String| {
        failure(format!(
            "file is {size} bytes which exceeds the maximum of {cap} bytes. Use grep, sed, or awk \
             to extract the content you need, or use offset and limit to read a portion."
        ))
    };
    if meta.len > cap {
        return Ok(too_large(meta.len.to_string()));
    }
    let data = match fs.read_range(p, 0, Some(cap.saturating_add(1))) {
        Ok(d) => d,
        Err(e) => {
            if let Some(kind) = refused_kind(&e) {
                return Err(SpecialFile::new(p, kind));
            }
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
            ) {
                return Ok(opened(e));
            }
            return Ok(failure(format!(
                "read file: {}",
                PathError::new("read", p, e)
            )));
        }
    };
    if data.len() as u64 > cap {
        // The file grew since the stat, or reports no size (`/proc`).
        return Ok(too_large(format!("more than {cap}")));
    }
    Ok(number_lines(&data, meta.len, offset, limit, limits))
}

/// A byte range of a file and its content type.
#[derive(Debug)]
pub struct FileRange {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

/// Reads `limit` bytes (0: to the end) from `offset` of `path`. The range
/// is sized from the file's stat, as the original sized its
/// `Content-Length`, and a range larger than `max_read` is a 413 that tells
/// the caller to read in parts; at most `max_read` bytes are ever read.
pub fn read_file(
    fs: &dyn Fs,
    path: &str,
    offset: u64,
    limit: u64,
    max_read: u64,
) -> Result<FileRange, ReadError> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(ReadError::NotAbsolute(path.to_string()));
    }
    let fail = |e: io::Error| match refused_kind(&e) {
        Some(kind) => ReadError::Special(SpecialFile::new(p, kind)),
        None => ReadError::Open(PathError::new("open", p, e)),
    };
    let meta = fs.metadata(p).map_err(fail)?;
    if meta.is_dir() {
        return Err(ReadError::NotAFile(path.to_string()));
    }
    if meta.kind.is_special() {
        return Err(SpecialFile::new(p, meta.kind).into());
    }
    let limit = if limit == 0 { meta.len } else { limit };
    let want = meta.len.saturating_sub(offset).min(limit);
    if want > max_read {
        return Err(ReadError::RangeTooLarge {
            path: path.to_string(),
            want,
            max_read,
        });
    }
    let mut bytes = if want == 0 {
        Vec::new()
    } else {
        fs.read_range(p, offset, Some(want)).map_err(fail)?
    };
    // The answer's length was promised from the stat; a file that shrank
    // meanwhile is reported short rather than padded.
    bytes.truncate(usize::try_from(want).unwrap_or(usize::MAX));
    Ok(FileRange {
        bytes,
        content_type: content_type(p),
    })
}

/// The type from the file extension, as Go's `mime.TypeByExtension` gives it
/// (`text/*` types carry `; charset=utf-8`), else `application/octet-stream`.
pub fn content_type(path: &Path) -> String {
    match mime_guess::from_path(path).first_raw() {
        Some(t) if t.starts_with("text/") => format!("{t}; charset=utf-8"),
        Some(t) => t.to_string(),
        None => "application/octet-stream".to_string(),
    }
}
