//! The `Fs` seam: every filesystem access of the file API and the simulated
//! scanner goes through this trait, so the harness can swap in an in-memory
//! tree with fixed paths. Nothing in the file API calls `std::fs` directly.

use std::io;
use std::path::{Path, PathBuf};

/// What a path is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    /// A named pipe: opening it for reading blocks until a writer comes.
    Fifo,
    Socket,
    /// `/dev/zero`, a terminal: reads may never end.
    CharDevice,
    BlockDevice,
    Other,
}

impl FileKind {
    /// How an error message names this kind of file.
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::File => "a regular file",
            FileKind::Dir => "a directory",
            FileKind::Symlink => "a symbolic link",
            FileKind::Fifo => "a named pipe (FIFO)",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Other => "a special file",
        }
    }

    /// Kinds the file API refuses to read or replace: reading them can
    /// block forever or never end.
    pub fn is_special(self) -> bool {
        matches!(
            self,
            FileKind::Fifo
                | FileKind::Socket
                | FileKind::CharDevice
                | FileKind::BlockDevice
                | FileKind::Other
        )
    }
}

/// The error an [`Fs`] read returns for a path that is not a regular file
/// (found on the opened descriptor, so a swap after a `stat` is caught).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a regular file: it is {}", .kind.describe())]
pub struct NotRegularFile {
    pub kind: FileKind,
}

/// Wraps [`NotRegularFile`] in an `io::Error` (kind `InvalidInput`).
pub fn not_regular(kind: FileKind) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, NotRegularFile { kind })
}

/// The kind of file an error refused, if it is a [`not_regular`] error.
pub fn refused_kind(e: &io::Error) -> Option<FileKind> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<NotRegularFile>())
        .map(|n| n.kind)
}

/// The subset of metadata the agent uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    pub kind: FileKind,
    pub len: u64,
    /// Unix permission bits (`0o755`).
    pub mode: u32,
}

impl Metadata {
    pub fn is_dir(&self) -> bool {
        self.kind == FileKind::Dir
    }
    pub fn is_file(&self) -> bool {
        self.kind == FileKind::File
    }
}

/// Filesystem operations, with `std::io::Error` kinds as `std::fs` reports
/// them (`NotFound`, `PermissionDenied`, `NotADirectory`, `IsADirectory`).
pub trait Fs: Send + Sync + 'static {
    /// Metadata, following symlinks.
    fn metadata(&self, path: &Path) -> io::Result<Metadata>;
    /// Metadata of the link itself.
    fn symlink_metadata(&self, path: &Path) -> io::Result<Metadata>;
    /// Resolves every symlink and `..`; the path must exist.
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;
    /// Opens for reading and returns the whole content (permission checked).
    /// Only regular files: anything else fails with [`not_regular`] (a
    /// directory with `IsADirectory`), decided on the opened descriptor and
    /// without an open that can block.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Reads up to `limit` bytes (`None`: to the end) from `offset`; only
    /// regular files, as [`Fs::read`]. Memory is bounded by the bytes
    /// actually read, whatever size the file reports.
    fn read_range(&self, path: &Path, offset: u64, limit: Option<u64>) -> io::Result<Vec<u8>>;
    /// Creates `path` and its missing parents with mode 0755, like Go's
    /// `os.MkdirAll`: an existing directory is fine; an existing
    /// non-directory at `path` or at one of its ancestors fails with
    /// `NotADirectory` (the write-file API answers that with 400).
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Creates a new file exclusively (fails if it exists) with `data`.
    fn write_new(&self, path: &Path, data: &[u8]) -> io::Result<()>;
    /// Sets the permission bits.
    fn set_mode(&self, path: &Path, mode: u32) -> io::Result<()>;
    /// Atomically replaces `to` with `from`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Lists a directory's entry names, sorted.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// The target of the symlink at `path`, as stored (may be relative).
    ///
    /// Only called on paths whose [`Fs::symlink_metadata`] says
    /// [`FileKind::Symlink`], so a filesystem without symlinks can keep
    /// this default.
    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a symlink", path.display()),
        ))
    }
}

/// The real filesystem (`std::fs`).
#[derive(Debug, Default)]
pub struct RealFs;

fn meta(m: std::fs::Metadata) -> Metadata {
    use std::os::unix::fs::PermissionsExt;
    let ft = m.file_type();
    let kind = if ft.is_symlink() {
        FileKind::Symlink
    } else if ft.is_dir() {
        FileKind::Dir
    } else if ft.is_file() {
        FileKind::File
    } else {
        special_kind(&ft)
    };
    Metadata {
        kind,
        len: m.len(),
        mode: m.permissions().mode() & 0o7777,
    }
}

fn special_kind(ft: &std::fs::FileType) -> FileKind {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        FileKind::Fifo
    } else if ft.is_socket() {
        FileKind::Socket
    } else if ft.is_char_device() {
        FileKind::CharDevice
    } else if ft.is_block_device() {
        FileKind::BlockDevice
    } else {
        FileKind::Other
    }
}

/// Opens `path` for reading if it is a regular file. The open is
/// non-blocking (a FIFO without a writer would otherwise block the thread
/// until one comes) and never makes a terminal the controlling one; the
/// kind is checked on the descriptor with `fstat`.
fn open_regular(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let ft = file.metadata()?.file_type();
    if ft.is_file() {
        Ok(file)
    } else if ft.is_dir() {
        Err(io::Error::from_raw_os_error(libc::EISDIR))
    } else {
        Err(not_regular(special_kind(&ft)))
    }
}

impl Fs for RealFs {
    fn metadata(&self, path: &Path) -> io::Result<Metadata> {
        std::fs::metadata(path).map(meta)
    }

    fn symlink_metadata(&self, path: &Path) -> io::Result<Metadata> {
        std::fs::symlink_metadata(path).map(meta)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        use std::io::Read;
        let mut out = Vec::new();
        open_regular(path)?.read_to_end(&mut out)?;
        Ok(out)
    }

    fn read_range(&self, path: &Path, offset: u64, limit: Option<u64>) -> io::Result<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = open_regular(path)?;
        f.seek(SeekFrom::Start(offset))?;
        let mut out = Vec::new();
        match limit {
            Some(n) => {
                f.take(n).read_to_end(&mut out)?;
            }
            None => {
                f.read_to_end(&mut out)?;
            }
        }
        Ok(out)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        // std's recursive create reports an existing file as
        // `AlreadyExists`; Go (and the API contract) call it ENOTDIR.
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => return Ok(()),
            Ok(_) => return Err(io::Error::from(io::ErrorKind::NotADirectory)),
            Err(_) => {}
        }
        match std::fs::DirBuilder::new().recursive(true).create(path) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(io::Error::from(io::ErrorKind::NotADirectory))
            }
            other => other,
        }
    }

    fn write_new(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        f.write_all(data)?;
        f.sync_all()
    }

    fn set_mode(&self, path: &Path, mode: u32) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<io::Result<Vec<_>>>()?;
        names.sort();
        Ok(names)
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::read_link(path)
    }
}
