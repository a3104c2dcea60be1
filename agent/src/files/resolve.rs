//! Path handling for writes: lexical cleaning (Go's `filepath.Clean`) and
//! symlink resolution of the existing part of a path, keeping the missing
//! tail, so writes land on a link's target and the link survives.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::fs::{FileKind, Fs};
use super::goerr::{PathError, quote};

/// How many symlinks one resolution may follow (Linux's `MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// Lexically cleans an absolute path: no `.`, no `..`, no repeated or
/// trailing `/` (`/..` stays `/`).
pub fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in path.components() {
        match c {
            Component::Normal(name) => out.push(name),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// A failed resolution.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Io(#[from] PathError),
    #[error("too many levels of symlinks resolving {}", quote(.0))]
    TooManyLinks(String),
}

/// Resolves every symlink in the existing part of absolute `path`, walking
/// it from the root like the kernel does. Components that do not exist (or
/// sit under a non-directory) are kept as they are: a write may create them.
pub fn resolve(fs: &dyn Fs, path: &Path) -> Result<PathBuf, ResolveError> {
    let mut pending: VecDeque<OsString> = names(&clean(path)).collect();
    let mut resolved = PathBuf::from("/");
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&name);
        match fs.symlink_metadata(&candidate) {
            Ok(meta) if meta.kind == FileKind::Symlink => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(ResolveError::TooManyLinks(path.display().to_string()));
                }
                let target = fs
                    .read_link(&candidate)
                    .map_err(|e| PathError::new("readlink", &candidate, e))?;
                if target.is_absolute() {
                    resolved = PathBuf::from("/");
                }
                for (i, part) in raw_names(&target).enumerate() {
                    pending.insert(i, part);
                }
            }
            Ok(_) => resolved = candidate,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                resolved = candidate;
                for rest in pending.drain(..) {
                    if rest == ".." {
                        resolved.pop();
                    } else {
                        resolved.push(rest);
                    }
                }
            }
            Err(e) => return Err(PathError::new("lstat", &candidate, e).into()),
        }
    }
    Ok(resolved)
}

/// The normal components of a cleaned path.
fn names(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n.to_os_string()),
        _ => None,
    })
}

/// A link target's components, keeping `..` (resolved physically).
fn raw_names(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_is_lexical() {
        let cases = [
            ("/a/./b//c/", "/a/b/c"),
            ("/a/../../b", "/b"),
            ("/..", "/"),
            ("/", "/"),
        ];
        for (input, want) in cases {
            assert_eq!(clean(Path::new(input)), PathBuf::from(want), "{input}");
        }
    }
}
