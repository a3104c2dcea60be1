//! `SimFs`: an in-memory filesystem implementing the agent's [`Fs`] seam.
//!
//! A tree of inodes (files with bytes and modes, directories, symlinks)
//! behind one lock, so every operation is atomic, `rename` included. Paths
//! are fixed and absolute (`/home/coder/project`), so outputs are identical
//! on every machine. Errors are real OS errors (`ENOENT`, `EACCES`,
//! `EISDIR`, `ENOTDIR`, `EEXIST`, `ELOOP`, ...), so their kinds and texts
//! match what `std::fs` reports. The simulated user owns every file and is
//! not root: the owner permission bits are enforced (`r` to read a file or
//! list a directory, `w` on a directory to create, rename or remove in it,
//! `x` to traverse it).

use parking_lot::{Mutex, MutexGuard};
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use agent::files::fs::{FileKind, Fs, Metadata};

/// The home directory of the simulated user.
pub const HOME: &str = "/home/coder";
/// The default project directory.
pub const PROJECT: &str = "/home/coder/project";

type Ino = u64;
const ROOT: Ino = 0;
const MAX_SYMLINKS: usize = 40;
const DIR_SIZE: u64 = 4096;

#[derive(Clone, Debug)]
enum Node {
    File {
        data: Vec<u8>,
        mode: u32,
    },
    Dir {
        entries: BTreeMap<String, Ino>,
        mode: u32,
    },
    Symlink {
        target: PathBuf,
    },
    /// A FIFO, socket or device: it can be stat'ed but never read, as the
    /// agent refuses such files on the opened descriptor.
    Special {
        kind: FileKind,
        mode: u32,
    },
}

#[derive(Debug)]
struct Tree {
    nodes: BTreeMap<Ino, Node>,
    next: Ino,
}

fn os(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// A resolved path: `(name, inode)` from the root (`""`) to the target.
type Chain = Vec<(String, Ino)>;

impl Tree {
    fn new() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            ROOT,
            Node::Dir {
                entries: BTreeMap::new(),
                mode: 0o755,
            },
        );
        Tree { nodes, next: 1 }
    }

    fn node(&self, ino: Ino) -> io::Result<&Node> {
        self.nodes.get(&ino).ok_or_else(|| os(libc::ENOENT))
    }

    fn alloc(&mut self, node: Node) -> Ino {
        let ino = self.next;
        self.next += 1;
        self.nodes.insert(ino, node);
        ino
    }

    fn free(&mut self, ino: Ino) {
        if let Some(Node::Dir { entries, .. }) = self.nodes.remove(&ino) {
            for child in entries.into_values() {
                self.free(child);
            }
        }
    }

    fn entries_mut(&mut self, dir: Ino) -> io::Result<&mut BTreeMap<String, Ino>> {
        match self.nodes.get_mut(&dir) {
            Some(Node::Dir { entries, .. }) => Ok(entries),
            Some(_) => Err(os(libc::ENOTDIR)),
            None => Err(os(libc::ENOENT)),
        }
    }

    /// Walks `path` from the root, following symlinks in every component
    /// and, if `follow_last`, in the last one. `..` is physical (POSIX).
    fn walk(&self, path: &Path, follow_last: bool) -> io::Result<Chain> {
        let mut chain: Chain = vec![(String::new(), ROOT)];
        let mut pending: VecDeque<String> = components(path);
        let mut links = 0;
        while let Some(comp) = pending.pop_front() {
            if comp == ".." {
                if chain.len() > 1 {
                    chain.pop();
                }
                continue;
            }
            let (_, cur) = chain.last().cloned().unwrap_or((String::new(), ROOT));
            let child = match self.node(cur)? {
                Node::Dir { entries, mode } => {
                    if mode & 0o100 == 0 {
                        return Err(os(libc::EACCES));
                    }
                    *entries.get(&comp).ok_or_else(|| os(libc::ENOENT))?
                }
                _ => return Err(os(libc::ENOTDIR)),
            };
            let is_last = pending.is_empty();
            if let Node::Symlink { target } = self.node(child)?
                && (!is_last || follow_last)
            {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(os(libc::ELOOP));
                }
                if target.is_absolute() {
                    chain.truncate(1);
                }
                for c in components(target).into_iter().rev() {
                    pending.push_front(c);
                }
                continue;
            }
            chain.push((comp, child));
        }
        Ok(chain)
    }

    fn resolve(&self, path: &Path, follow_last: bool) -> io::Result<Ino> {
        let chain = self.walk(path, follow_last)?;
        Ok(chain.last().map(|(_, i)| *i).unwrap_or(ROOT))
    }

    /// The directory holding `path`'s last component, and that component.
    fn parent_of(&self, path: &Path) -> io::Result<(Chain, String)> {
        let name = match path.file_name() {
            Some(n) => n.to_string_lossy().into_owned(),
            None => return Err(os(libc::EINVAL)),
        };
        let parent = path.parent().unwrap_or(Path::new("/"));
        let chain = self.walk(parent, true)?;
        let dir = chain.last().map(|(_, i)| *i).unwrap_or(ROOT);
        match self.node(dir)? {
            Node::Dir { mode, .. } => {
                if mode & 0o100 == 0 {
                    return Err(os(libc::EACCES));
                }
            }
            _ => return Err(os(libc::ENOTDIR)),
        }
        Ok((chain, name))
    }

    fn writable_dir(&self, dir: Ino) -> io::Result<()> {
        match self.node(dir)? {
            Node::Dir { mode, .. } if mode & 0o200 != 0 => Ok(()),
            Node::Dir { .. } => Err(os(libc::EACCES)),
            _ => Err(os(libc::ENOTDIR)),
        }
    }

    fn metadata(&self, ino: Ino) -> io::Result<Metadata> {
        Ok(match self.node(ino)? {
            Node::File { data, mode } => Metadata {
                kind: FileKind::File,
                len: data.len() as u64,
                mode: *mode,
            },
            Node::Dir { mode, .. } => Metadata {
                kind: FileKind::Dir,
                len: DIR_SIZE,
                mode: *mode,
            },
            Node::Symlink { target } => Metadata {
                kind: FileKind::Symlink,
                len: target.as_os_str().len() as u64,
                mode: 0o777,
            },
            Node::Special { kind, mode } => Metadata {
                kind: *kind,
                len: 0,
                mode: *mode,
            },
        })
    }

    fn file_data(&self, path: &Path) -> io::Result<&[u8]> {
        match self.node(self.resolve(path, true)?)? {
            Node::File { data, mode } => {
                if mode & 0o400 == 0 {
                    Err(os(libc::EACCES))
                } else {
                    Ok(data)
                }
            }
            Node::Dir { .. } => Err(os(libc::EISDIR)),
            Node::Symlink { .. } => Err(os(libc::ELOOP)),
            Node::Special { kind, .. } => Err(agent::files::fs::not_regular(*kind)),
        }
    }

    /// Creates `name` in the directory ending `chain`, failing if it exists.
    fn create(&mut self, chain: &Chain, name: String, node: Node) -> io::Result<Ino> {
        let dir = chain.last().map(|(_, i)| *i).unwrap_or(ROOT);
        self.writable_dir(dir)?;
        if self.entries_mut(dir)?.contains_key(&name) {
            return Err(os(libc::EEXIST));
        }
        let ino = self.alloc(node);
        self.entries_mut(dir)?.insert(name, ino);
        Ok(ino)
    }

    fn mkdir_all(&mut self, path: &Path) -> io::Result<()> {
        match self.resolve(path, true) {
            Ok(ino) => {
                return match self.node(ino)? {
                    Node::Dir { .. } => Ok(()),
                    _ => Err(os(libc::EEXIST)),
                };
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
        if let Some(parent) = path.parent() {
            self.mkdir_all(parent)?;
        }
        let (chain, name) = self.parent_of(path)?;
        let dir = Node::Dir {
            entries: BTreeMap::new(),
            mode: 0o755,
        };
        match self.create(&chain, name, dir) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        let (from_chain, from_name) = self.parent_of(from)?;
        let (to_chain, to_name) = self.parent_of(to)?;
        let from_dir = from_chain.last().map(|(_, i)| *i).unwrap_or(ROOT);
        let to_dir = to_chain.last().map(|(_, i)| *i).unwrap_or(ROOT);
        let src = *self
            .entries_mut(from_dir)?
            .get(&from_name)
            .ok_or_else(|| os(libc::ENOENT))?;
        self.writable_dir(from_dir)?;
        self.writable_dir(to_dir)?;
        if from_dir == to_dir && from_name == to_name {
            return Ok(());
        }
        let src_is_dir = matches!(self.node(src)?, Node::Dir { .. });
        if src_is_dir && to_chain.iter().any(|(_, i)| *i == src) {
            return Err(os(libc::EINVAL));
        }
        if let Some(dst) = self.entries_mut(to_dir)?.get(&to_name).copied() {
            match (src_is_dir, self.node(dst)?) {
                (true, Node::Dir { entries, .. }) if !entries.is_empty() => {
                    return Err(os(libc::ENOTEMPTY));
                }
                (true, Node::Dir { .. })
                | (false, Node::File { .. } | Node::Symlink { .. } | Node::Special { .. }) => {}
                (true, _) => return Err(os(libc::ENOTDIR)),
                (false, Node::Dir { .. }) => return Err(os(libc::EISDIR)),
            }
            self.entries_mut(to_dir)?.remove(&to_name);
            self.free(dst);
        }
        self.entries_mut(from_dir)?.remove(&from_name);
        self.entries_mut(to_dir)?.insert(to_name, src);
        Ok(())
    }

    fn remove(&mut self, path: &Path, dirs_too: bool) -> io::Result<()> {
        let (chain, name) = self.parent_of(path)?;
        let dir = chain.last().map(|(_, i)| *i).unwrap_or(ROOT);
        let ino = *self
            .entries_mut(dir)?
            .get(&name)
            .ok_or_else(|| os(libc::ENOENT))?;
        if !dirs_too && matches!(self.node(ino)?, Node::Dir { .. }) {
            return Err(os(libc::EISDIR));
        }
        self.writable_dir(dir)?;
        self.entries_mut(dir)?.remove(&name);
        self.free(ino);
        Ok(())
    }
}

/// Components as strings; a relative path is taken from the root (the
/// simulated cwd).
fn components(path: &Path) -> VecDeque<String> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_string()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

fn chain_path(chain: &Chain) -> PathBuf {
    let mut p = PathBuf::from("/");
    for (name, _) in chain.iter().skip(1) {
        p.push(name);
    }
    p
}

/// The in-memory filesystem. Cheap to clone; clones share the tree.
#[derive(Clone)]
pub struct SimFs {
    tree: Arc<Mutex<Tree>>,
}

impl Default for SimFs {
    fn default() -> Self {
        Self::new()
    }
}

impl SimFs {
    /// An empty tree (only `/`).
    pub fn empty() -> Self {
        SimFs {
            tree: Arc::new(Mutex::new(Tree::new())),
        }
    }

    /// A tree with the fixed layout every scenario starts from:
    /// `/home/coder/project` and `/tmp`.
    pub fn new() -> Self {
        let fs = Self::empty();
        for dir in [PROJECT, "/tmp"] {
            // Cannot fail on a fresh tree.
            let _ = fs.mkdir_p(dir);
        }
        fs
    }

    fn lock(&self) -> MutexGuard<'_, Tree> {
        self.tree.lock()
    }

    /// `mkdir -p`.
    pub fn mkdir_p(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.lock().mkdir_all(path.as_ref())
    }

    /// Creates or truncates a file (following symlinks), creating missing
    /// parent directories. A new file gets mode 0644.
    pub fn write(&self, path: impl AsRef<Path>, data: impl Into<Vec<u8>>) -> io::Result<()> {
        let path = path.as_ref();
        let data = data.into();
        let mut tree = self.lock();
        match tree.resolve(path, true) {
            Ok(ino) => match tree.nodes.get_mut(&ino) {
                Some(Node::File { data: d, mode }) => {
                    if *mode & 0o200 == 0 {
                        return Err(os(libc::EACCES));
                    }
                    *d = data;
                    Ok(())
                }
                Some(Node::Dir { .. }) => Err(os(libc::EISDIR)),
                _ => Err(os(libc::ENOENT)),
            },
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                if let Some(parent) = path.parent() {
                    tree.mkdir_all(parent)?;
                }
                let (chain, name) = tree.parent_of(path)?;
                tree.create(&chain, name, Node::File { data, mode: 0o644 })
                    .map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// Creates a symlink at `link` pointing to `target` (not resolved).
    pub fn symlink(&self, target: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
        let mut tree = self.lock();
        let (chain, name) = tree.parent_of(link.as_ref())?;
        let node = Node::Symlink {
            target: target.as_ref().to_path_buf(),
        };
        tree.create(&chain, name, node).map(|_| ())
    }

    /// Creates a FIFO, socket or device node (`kind` must not be a file,
    /// directory or symlink) at `path`: the file API must refuse to read or
    /// replace it.
    pub fn mknod(&self, path: impl AsRef<Path>, kind: FileKind) -> io::Result<()> {
        if matches!(kind, FileKind::File | FileKind::Dir | FileKind::Symlink) {
            return Err(os(libc::EINVAL));
        }
        let mut tree = self.lock();
        let (chain, name) = tree.parent_of(path.as_ref())?;
        tree.create(&chain, name, Node::Special { kind, mode: 0o644 })
            .map(|_| ())
    }

    /// Removes a file, symlink or a whole directory tree (`rm -rf`, but
    /// failing on a missing path).
    pub fn remove_all(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.lock().remove(path.as_ref(), true)
    }

    /// Whether `path` exists (following symlinks).
    pub fn exists(&self, path: impl AsRef<Path>) -> bool {
        self.lock().resolve(path.as_ref(), true).is_ok()
    }

    /// The file's content as UTF-8 (lossy).
    pub fn read_string(&self, path: impl AsRef<Path>) -> io::Result<String> {
        Fs::read(self, path.as_ref()).map(|d| String::from_utf8_lossy(&d).into_owned())
    }

    /// The target of the symlink at `path`.
    pub fn read_link(&self, path: impl AsRef<Path>) -> io::Result<PathBuf> {
        let tree = self.lock();
        match tree.node(tree.resolve(path.as_ref(), false)?)? {
            Node::Symlink { target } => Ok(target.clone()),
            _ => Err(os(libc::EINVAL)),
        }
    }
}

impl Fs for SimFs {
    fn metadata(&self, path: &Path) -> io::Result<Metadata> {
        let tree = self.lock();
        tree.metadata(tree.resolve(path, true)?)
    }

    fn symlink_metadata(&self, path: &Path) -> io::Result<Metadata> {
        let tree = self.lock();
        tree.metadata(tree.resolve(path, false)?)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        Ok(chain_path(&self.lock().walk(path, true)?))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.lock().file_data(path).map(<[u8]>::to_vec)
    }

    fn read_range(&self, path: &Path, offset: u64, limit: Option<u64>) -> io::Result<Vec<u8>> {
        let tree = self.lock();
        let data = tree.file_data(path)?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let end = match limit {
            Some(n) => start.saturating_add(usize::try_from(n).unwrap_or(usize::MAX)),
            None => data.len(),
        }
        .min(data.len());
        Ok(data[start..end].to_vec())
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        // The seam's contract (Go's `os.MkdirAll`): an existing
        // non-directory is `NotADirectory`, which write-file answers with 400.
        self.mkdir_p(path).map_err(|e| match e.raw_os_error() {
            Some(libc::EEXIST) => os(libc::ENOTDIR),
            _ => e,
        })
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        SimFs::read_link(self, path)
    }

    fn write_new(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let mut tree = self.lock();
        let (chain, name) = tree.parent_of(path)?;
        let node = Node::File {
            data: data.to_vec(),
            mode: 0o644,
        };
        tree.create(&chain, name, node).map(|_| ())
    }

    fn set_mode(&self, path: &Path, mode: u32) -> io::Result<()> {
        let mut tree = self.lock();
        let ino = tree.resolve(path, true)?;
        match tree.nodes.get_mut(&ino) {
            Some(
                Node::File { mode: m, .. }
                | Node::Dir { mode: m, .. }
                | Node::Special { mode: m, .. },
            ) => {
                *m = mode & 0o7777;
                Ok(())
            }
            _ => Err(os(libc::ENOENT)),
        }
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.lock().rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.lock().remove(path, false)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let tree = self.lock();
        match tree.node(tree.resolve(path, true)?)? {
            Node::Dir { entries, mode } => {
                if mode & 0o400 == 0 {
                    return Err(os(libc::EACCES));
                }
                Ok(entries.keys().cloned().collect())
            }
            _ => Err(os(libc::ENOTDIR)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use io::ErrorKind as K;

    fn p(s: &str) -> &Path {
        Path::new(s)
    }

    /// Checks an operation's outcome: `Ok(())` or the error kind.
    fn check<T: std::fmt::Debug>(what: &str, got: io::Result<T>, expected: Result<(), K>) {
        match (&got, expected) {
            (Ok(_), Ok(())) => {}
            (Err(e), Err(kind)) if e.kind() == kind => {}
            _ => panic!("{what}: expected {expected:?}, got {got:?}"),
        }
    }

    fn fixture() -> SimFs {
        let fs = SimFs::new();
        fs.write("/home/coder/project/src/main.rs", "fn main() {}\n")
            .unwrap();
        fs.write("/home/coder/project/secret", "s").unwrap();
        fs.set_mode(p("/home/coder/project/secret"), 0o000).unwrap();
        fs.symlink("src", "/home/coder/project/link").unwrap();
        fs.symlink("/nowhere", "/home/coder/project/dangling")
            .unwrap();
        fs.symlink("loop", "/home/coder/project/loop").unwrap();
        fs
    }

    #[test]
    fn errors_have_the_kinds_std_fs_reports() {
        let fs = fixture();
        check(
            "read missing",
            fs.read(p("/home/coder/nope")),
            Err(K::NotFound),
        );
        check("read dir", fs.read(p(PROJECT)), Err(K::IsADirectory));
        check(
            "read through a file",
            fs.read(p("/home/coder/project/src/main.rs/x")),
            Err(K::NotADirectory),
        );
        check(
            "read unreadable",
            fs.read(p("/home/coder/project/secret")),
            Err(K::PermissionDenied),
        );
        check(
            "read dangling",
            fs.read(p("/home/coder/project/dangling")),
            Err(K::NotFound),
        );
        check(
            "write_new existing",
            fs.write_new(p("/home/coder/project/secret"), b"x"),
            Err(K::AlreadyExists),
        );
        check(
            "write_new missing parent",
            fs.write_new(p("/home/coder/nope/x"), b"x"),
            Err(K::NotFound),
        );
        check(
            "remove dir",
            fs.remove_file(p(PROJECT)),
            Err(K::IsADirectory),
        );
        check(
            "list a file",
            fs.read_dir(p("/home/coder/project/secret")),
            Err(K::NotADirectory),
        );
        let looped = fs.read(p("/home/coder/project/loop")).unwrap_err();
        assert_eq!(looped.raw_os_error(), Some(libc::ELOOP));
    }

    #[test]
    fn special_files_stat_as_their_kind_and_refuse_reads() {
        let fs = fixture();
        for (name, kind) in [
            ("fifo", FileKind::Fifo),
            ("sock", FileKind::Socket),
            ("zero", FileKind::CharDevice),
            ("disk", FileKind::BlockDevice),
        ] {
            let path = format!("{PROJECT}/{name}");
            fs.mknod(&path, kind).unwrap();
            assert_eq!(fs.metadata(p(&path)).unwrap().kind, kind, "{name}");
            let refused = fs.read_range(p(&path), 0, Some(10)).unwrap_err();
            assert_eq!(
                agent::files::fs::refused_kind(&refused),
                Some(kind),
                "{name}"
            );
            assert_eq!(
                agent::files::fs::refused_kind(&fs.read(p(&path)).unwrap_err()),
                Some(kind)
            );
        }
        assert_eq!(
            fs.mknod(format!("{PROJECT}/f"), FileKind::File)
                .unwrap_err()
                .raw_os_error(),
            Some(libc::EINVAL)
        );
    }

    #[test]
    fn error_texts_match_the_os() {
        let fs = SimFs::new();
        let e = fs.read(p("/missing")).unwrap_err();
        assert_eq!(e.to_string(), "No such file or directory (os error 2)");
    }

    #[test]
    fn symlinks_resolve_in_every_component_and_canonicalize() {
        let fs = fixture();
        assert_eq!(
            fs.read(p("/home/coder/project/link/main.rs")).unwrap(),
            b"fn main() {}\n"
        );
        assert_eq!(
            fs.canonicalize(p("/home/coder/project/link/../link/./main.rs"))
                .unwrap(),
            PathBuf::from("/home/coder/project/src/main.rs")
        );
        assert_eq!(
            fs.symlink_metadata(p("/home/coder/project/link"))
                .unwrap()
                .kind,
            FileKind::Symlink
        );
        assert_eq!(
            fs.metadata(p("/home/coder/project/link")).unwrap().kind,
            FileKind::Dir
        );
        assert_eq!(fs.read_link("/home/coder/project/link").unwrap(), p("src"));
    }

    #[test]
    fn rename_replaces_atomically_and_follows_posix_rules() {
        let fs = fixture();
        fs.write_new(p("/tmp/new"), b"new").unwrap();
        fs.rename(p("/tmp/new"), p("/home/coder/project/src/main.rs"))
            .unwrap();
        assert_eq!(
            fs.read(p("/home/coder/project/src/main.rs")).unwrap(),
            b"new"
        );
        assert!(!fs.exists("/tmp/new"));
        check(
            "dir onto file",
            fs.rename(p("/tmp"), p("/home/coder/project/src/main.rs")),
            Err(K::NotADirectory),
        );
        check(
            "file onto dir",
            fs.rename(p("/home/coder/project/src/main.rs"), p("/tmp")),
            Err(K::IsADirectory),
        );
        check(
            "dir into itself",
            fs.rename(p("/home/coder"), p("/home/coder/project/x")),
            Err(K::InvalidInput),
        );
        check(
            "missing source",
            fs.rename(p("/tmp/none"), p("/tmp/x")),
            Err(K::NotFound),
        );
        fs.rename(p("/home/coder/project/src"), p("/tmp/src"))
            .unwrap();
        assert!(fs.exists("/tmp/src/main.rs"));
    }

    #[test]
    fn modes_are_enforced_for_the_owner() {
        let fs = fixture();
        fs.set_mode(p("/tmp"), 0o555).unwrap();
        check(
            "create in read-only dir",
            fs.write_new(p("/tmp/x"), b""),
            Err(K::PermissionDenied),
        );
        fs.set_mode(p("/tmp"), 0o600).unwrap();
        fs.set_mode(p("/home/coder/project"), 0o644).unwrap();
        check(
            "traverse without x",
            fs.metadata(p("/home/coder/project/src")),
            Err(K::PermissionDenied),
        );
        fs.set_mode(p("/home/coder/project"), 0o755).unwrap();
        let m = fs.metadata(p("/home/coder/project/secret")).unwrap();
        assert_eq!((m.kind, m.mode, m.len), (FileKind::File, 0, 1));
    }

    /// The agent reads links through the seam; the trait's default (for
    /// filesystems without symlinks) answered "not a symlink", so writing
    /// through a link was a 500 under simulation (found by hostile-input).
    #[test]
    fn links_read_through_the_seam() {
        let fs = fixture();
        let seam: &dyn Fs = &fs;
        assert_eq!(
            seam.read_link(p("/home/coder/project/link")).unwrap(),
            PathBuf::from("src")
        );
        check(
            "read_link of a file",
            seam.read_link(p("/home/coder/project/src/main.rs")),
            Err(K::InvalidInput),
        );
    }

    #[test]
    fn ranges_and_listings() {
        let fs = fixture();
        let f = p("/home/coder/project/src/main.rs");
        assert_eq!(fs.read_range(f, 3, Some(4)).unwrap(), b"main");
        assert_eq!(fs.read_range(f, 100, None).unwrap(), b"");
        assert_eq!(
            fs.read_dir(p(PROJECT)).unwrap(),
            ["dangling", "link", "loop", "secret", "src"]
        );
        fs.create_dir_all(p("/home/coder/project/a/b/c")).unwrap();
        fs.create_dir_all(p("/home/coder/project/a/b")).unwrap();
        check(
            "mkdir over a file",
            fs.create_dir_all(p("/home/coder/project/secret")),
            Err(K::NotADirectory),
        );
        check(
            "mkdir under a file",
            fs.create_dir_all(p("/home/coder/project/src/main.rs/x")),
            Err(K::NotADirectory),
        );
        fs.remove_all("/home/coder/project/a").unwrap();
        assert!(!fs.exists("/home/coder/project/a/b"));
    }
}
