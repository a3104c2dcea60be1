//! `GET /read-file-lines` (spec 4.1) and `GET /read-file` (spec 4.2).

use std::io;
use std::path::Path;

use http::StatusCode;

use crate::http::error::ApiError;

use super::fs::Fs;
use super::goerr::{PathError, quote};
use super::lines::{failure, number_lines};
use super::wire::{ReadFileLinesLimits, ReadFileLinesResponse};

/// Reads `path` for the LLM. Every failure is an unsuccessful answer (the
/// handler still says 200), never a partial one.
pub fn read_file_lines(
    fs: &dyn Fs,
    path: &str,
    offset: u64,
    limit: u64,
    limits: &ReadFileLinesLimits,
) -> ReadFileLinesResponse {
    let p = Path::new(path);
    if !p.is_absolute() {
        return failure(format!("file path must be absolute: {}", quote(path)));
    }
    let opened = |e: io::Error| match e.kind() {
        io::ErrorKind::NotFound => failure(format!("file does not exist: {path}")),
        io::ErrorKind::PermissionDenied => failure(format!("permission denied: {path}")),
        _ => failure(format!("open file: {}", PathError::new("open", p, e))),
    };
    let meta = match fs.metadata(p) {
        Ok(m) => m,
        Err(e) => return opened(e),
    };
    if meta.is_dir() {
        return failure(format!("not a file: {path}"));
    }
    if meta.len > limits.max_file_size {
        return failure(format!(
            "file is {} bytes which exceeds the maximum of {} bytes. Use grep, sed, or awk to \
             extract the content you need, or use offset and limit to read a portion.",
            meta.len, limits.max_file_size
        ));
    }
    let data = match fs.read(p) {
        Ok(d) => d,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
            ) =>
        {
            return opened(e);
        }
        Err(e) => return failure(format!("read file: {}", PathError::new("read", p, e))),
    };
    number_lines(&data, meta.len, offset, limit, limits)
}

/// A byte range of a file and its content type.
#[derive(Debug)]
pub struct FileRange {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

/// Reads `limit` bytes (0: to the end) from `offset` of `path`.
pub fn read_file(fs: &dyn Fs, path: &str, offset: u64, limit: u64) -> Result<FileRange, ApiError> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(ApiError::bad_request(format!(
            "file path must be absolute: {}",
            quote(path)
        )));
    }
    let fail = |e: io::Error| {
        let e = PathError::new("open", p, e);
        ApiError::new(e.open_status(), e.to_string())
    };
    let meta = fs.metadata(p).map_err(fail)?;
    if meta.is_dir() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("open {path}: not a file"),
        ));
    }
    let limit = if limit == 0 { meta.len } else { limit };
    let want = meta.len.saturating_sub(offset).min(limit);
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
