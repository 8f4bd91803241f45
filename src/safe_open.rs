//! Opening files whose names a repository controls, without letting the repository reach
//! outside it, hang the tool, or grow it without bound (docs/security.md).
//!
//! The rule, in one place: below a trusted root (a repository's work tree, a plan run root,
//! the directory of a file the caller named), every component is opened with `openat` and
//! `O_NOFOLLOW`, one at a time, so a symlink at any level — `.okstra -> ../outside`,
//! `consumers.idx -> ~/.bashrc`, `task-manifest.json -> /dev/zero` — is refused
//! ([`FsError::Unsafe`], `E_UNSAFE_FILE`) instead of followed. The last component must be a
//! regular file: its type is read with `fstatat(AT_SYMLINK_NOFOLLOW)` before it is opened, so
//! a FIFO, socket or device is never opened at all (opening a FIFO for reading blocks until a
//! writer comes; a device may act on open), and the descriptor is opened `O_NONBLOCK` and
//! checked again with `fstat`. Reads stop at a [`Bound`] that fits the file's purpose
//! ([`FsError::TooLarge`], `E_FILE_TOO_LARGE`, naming the file and the bound) and poll
//! [`crate::interrupt::check`] between chunks. Writes through the same walk create missing
//! directories with `mkdirat` and files with `O_CREAT | O_NOFOLLOW`.
//!
//! The threat is the content of a repository (committed, or left by a tool), not a process
//! of the same user racing okstra: that process could edit the files directly anyway.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::fsio::{io_err, FsError};

/// The most okstra reads of one kind of file, and what the file is for (both named in
/// `E_FILE_TOO_LARGE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// Bytes.
    pub bytes: u64,
    /// What the file is, as the message says it ("a ledger", "a project.json").
    pub purpose: &'static str,
}

/// `consumers.jsonl`: about a million rows.
pub const LEDGER: Bound = Bound {
    bytes: 256 << 20,
    purpose: "a ledger (consumers.jsonl)",
};
/// `.okstra/project.json` (current or legacy place): room for very long entry lists.
pub const PROJECT_JSON: Bound = Bound {
    bytes: 8 << 20,
    purpose: "a project.json",
};
/// A report's `.data.json`.
pub const REPORT_DATA: Bound = Bound {
    bytes: 16 << 20,
    purpose: "a report's .data.json",
};
/// A `task-manifest.json`.
pub const TASK_MANIFEST: Bound = Bound {
    bytes: 4 << 20,
    purpose: "a task-manifest.json",
};
/// A wizard state file.
pub const WIZARD_STATE: Bound = Bound {
    bytes: 4 << 20,
    purpose: "a wizard state file",
};
/// `.worktreeinclude` and the other one-line-per-entry lists a repository carries.
pub const ENTRY_LIST: Bound = Bound {
    bytes: 1 << 20,
    purpose: "an entry list (.worktreeinclude)",
};

/// How a file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read only; a missing file is `Ok(None)`.
    Read,
    /// Read and write, created when missing (`consumers.idx`, a lock file).
    ReadWriteCreate,
    /// Read and append, created when missing (`consumers.jsonl`).
    AppendCreate,
}

/// What a file of mode `mode` (from `stat`) is, for messages; `None` for a regular file.
/// `mode` is a `u32` on every platform (`MetadataExt::mode`); `libc::mode_t` is `u32` on
/// Linux but `u16` on macOS, so a `stat`'s `st_mode` is widened first.
// `u32::from` is a no-op on Linux and a widening on macOS.
#[allow(clippy::useless_conversion)]
pub fn kind_of_mode(mode: u32) -> Option<&'static str> {
    let is = |t: libc::mode_t| mode & u32::from(libc::S_IFMT) == u32::from(t);
    if is(libc::S_IFREG) {
        None
    } else if is(libc::S_IFLNK) {
        Some("a symlink")
    } else if is(libc::S_IFIFO) {
        Some("a FIFO")
    } else if is(libc::S_IFSOCK) {
        Some("a socket")
    } else if is(libc::S_IFCHR) || is(libc::S_IFBLK) {
        Some("a device")
    } else if is(libc::S_IFDIR) {
        Some("a directory")
    } else {
        Some("not a regular file")
    }
}

/// What `path` is when it is not a regular file (without following a symlink there);
/// `None` for a regular file or a missing one. For callers that skip such entries with a
/// note instead of refusing.
pub fn special_kind(path: &Path) -> Option<&'static str> {
    use std::os::unix::fs::MetadataExt;
    let meta = path.symlink_metadata().ok()?;
    kind_of_mode(meta.mode())
}

/// A `stat`'s `st_mode` as a `u32` (`mode_t` is `u16` on macOS).
#[allow(clippy::useless_conversion)]
fn mode_of(st: &libc::stat) -> u32 {
    u32::from(st.st_mode)
}

fn cstring(name: &OsStr, path: &Path) -> Result<CString, FsError> {
    CString::new(name.as_bytes()).map_err(|_| FsError::Unsafe {
        path: path.to_path_buf(),
        what: "a name holding a NUL byte",
    })
}

fn last_os_error() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`; `Ok(None)` when missing.
fn stat_at(dir: RawFd, name: &CString) -> std::io::Result<Option<libc::stat>> {
    // SAFETY: a zeroed stat is a valid out-buffer; `name` is NUL-terminated.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    if rc == 0 {
        return Ok(Some(st));
    }
    let e = last_os_error();
    if e.kind() == std::io::ErrorKind::NotFound {
        Ok(None)
    } else {
        Err(e)
    }
}

fn open_at(dir: RawFd, name: &CString, flags: libc::c_int) -> std::io::Result<OwnedFd> {
    // SAFETY: `name` is NUL-terminated; the returned descriptor is owned by the OwnedFd.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), flags, 0o666 as libc::c_uint) };
    if fd < 0 {
        Err(last_os_error())
    } else {
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

fn fstat(fd: RawFd) -> std::io::Result<libc::stat> {
    // SAFETY: a zeroed stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } == 0 {
        Ok(st)
    } else {
        Err(last_os_error())
    }
}

/// The trusted root itself, opened as a directory (it may be reached through symlinks: the
/// caller named it).
fn open_root(root: &Path) -> Result<OwnedFd, FsError> {
    let root = if root.as_os_str().is_empty() {
        Path::new(".")
    } else {
        root
    };
    let c = cstring(root.as_os_str(), root)?;
    open_at(
        libc::AT_FDCWD,
        &c,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
    )
    .map_err(io_err("open directory", root))
}

/// Opens directory `rel` below `root` one component at a time without following a symlink;
/// creates missing ones when `create`. `Ok(None)`: a component is missing (not creating).
fn walk_dirs(root: &Path, rel: &Path, create: bool) -> Result<Option<OwnedFd>, FsError> {
    let mut fd = open_root(root)?;
    let mut at = root.to_path_buf();
    for comp in rel.components() {
        let name = match comp {
            Component::CurDir => continue,
            Component::Normal(n) => n,
            _ => {
                return Err(FsError::Unsafe {
                    path: root.join(rel),
                    what: "a path leading out of its root",
                })
            }
        };
        at.push(name);
        let c = cstring(name, &at)?;
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        let next = match stat_at(fd.as_raw_fd(), &c).map_err(io_err("inspect", &at))? {
            Some(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {
                open_at(fd.as_raw_fd(), &c, flags)
            }
            Some(st) => {
                return Err(FsError::Unsafe {
                    path: at,
                    what: kind_of_mode(mode_of(&st)).unwrap_or("a file where a directory belongs"),
                })
            }
            None if !create => return Ok(None),
            None => {
                // SAFETY: `c` is NUL-terminated.
                let rc = unsafe { libc::mkdirat(fd.as_raw_fd(), c.as_ptr(), 0o777) };
                if rc != 0 {
                    let e = last_os_error();
                    if e.kind() != std::io::ErrorKind::AlreadyExists {
                        return Err(io_err("create directory", &at)(e));
                    }
                }
                open_at(fd.as_raw_fd(), &c, flags)
            }
        };
        fd = next.map_err(|e| unsafe_or_io(e, "open directory", &at))?;
    }
    Ok(Some(fd))
}

/// `ELOOP` / `ENOTDIR` from an `O_NOFOLLOW` open mean a symlink took the place of what was
/// checked: refused as unsafe; anything else is an I/O error.
fn unsafe_or_io(e: std::io::Error, op: &'static str, path: &Path) -> FsError {
    match e.raw_os_error() {
        Some(libc::ELOOP) | Some(libc::ENOTDIR) => FsError::Unsafe {
            path: path.to_path_buf(),
            what: "a symlink",
        },
        Some(libc::ENXIO) => FsError::Unsafe {
            path: path.to_path_buf(),
            what: "a FIFO",
        },
        _ => io_err(op, path)(e),
    }
}

/// Makes sure directory `rel` exists below `root` with no symlink at any component
/// (creating the missing ones) and returns its path: the place a caller may then
/// [`crate::fsio::atomic_write`] into (whose temp file is `O_EXCL | O_NOFOLLOW` and whose
/// rename replaces, never follows, a symlink at the final name).
pub fn dir_in(root: &Path, rel: &Path) -> Result<PathBuf, FsError> {
    walk_dirs(root, rel, true)?;
    Ok(root.join(rel))
}

/// Whether directory `rel` exists below `root` reached without symlinks: `Ok(false)` when a
/// component is missing, `E_UNSAFE_FILE` when one is a symlink or not a directory.
pub fn dir_exists_in(root: &Path, rel: &Path) -> Result<bool, FsError> {
    Ok(walk_dirs(root, rel, false)?.is_some())
}

/// Opens file `rel` below `root` (see the module docs). `Ok(None)`: it (or a directory on
/// the way) is missing and `access` does not create.
pub fn open_in(root: &Path, rel: &Path, access: Access) -> Result<Option<File>, FsError> {
    let create = access != Access::Read;
    let (dir_rel, name) = match (rel.parent(), rel.file_name()) {
        (Some(d), Some(n)) => (d, n),
        _ => {
            return Err(FsError::Unsafe {
                path: root.join(rel),
                what: "not a file name",
            })
        }
    };
    let Some(dir) = walk_dirs(root, dir_rel, create)? else {
        return Ok(None);
    };
    let path = root.join(rel);
    let c = cstring(name, &path)?;
    let existing = stat_at(dir.as_raw_fd(), &c).map_err(io_err("inspect", &path))?;
    if let Some(st) = existing {
        if let Some(what) = kind_of_mode(mode_of(&st)) {
            return Err(FsError::Unsafe { path, what });
        }
    } else if !create {
        return Ok(None);
    }
    let mode = match access {
        Access::Read => libc::O_RDONLY,
        Access::ReadWriteCreate => libc::O_RDWR | libc::O_CREAT,
        Access::AppendCreate => libc::O_RDWR | libc::O_APPEND | libc::O_CREAT,
    };
    let flags = mode | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
    let fd = match open_at(dir.as_raw_fd(), &c, flags) {
        Ok(fd) => fd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !create => return Ok(None),
        Err(e) => return Err(unsafe_or_io(e, "open", &path)),
    };
    let st = fstat(fd.as_raw_fd()).map_err(io_err("stat", &path))?;
    if let Some(what) = kind_of_mode(mode_of(&st)) {
        return Err(FsError::Unsafe { path, what });
    }
    // Regular from here on: blocking reads are what the callers expect.
    // SAFETY: plain fcntl on a descriptor we own.
    unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if fl >= 0 {
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK);
        }
    }
    Ok(Some(File::from(fd)))
}

/// Opens a file whose directory the caller trusts (it named it) but whose last component it
/// does not: [`open_in`] with the parent as the root.
pub fn open_file(path: &Path, access: Access) -> Result<Option<File>, FsError> {
    let (dir, name) = split(path)?;
    open_in(dir, Path::new(name), access)
}

fn split(path: &Path) -> Result<(&Path, &OsStr), FsError> {
    match path.file_name() {
        Some(name) => Ok((crate::fsio::dir_of(path), name)),
        None => Err(FsError::Unsafe {
            path: path.to_path_buf(),
            what: "not a file name",
        }),
    }
}

/// Reads all of `file` (at `path`, for messages), refusing more than `bound` bytes; polls
/// [`crate::interrupt::check`] between chunks.
pub fn read_bounded(file: &mut File, path: &Path, bound: Bound) -> Result<Vec<u8>, FsError> {
    let len = file.metadata().map_err(io_err("stat", path))?.len();
    let too_large = || FsError::TooLarge {
        path: path.to_path_buf(),
        bound: bound.bytes,
        purpose: bound.purpose,
    };
    if len > bound.bytes {
        return Err(too_large());
    }
    crate::interrupt::check()?;
    let mut out = Vec::with_capacity(len as usize);
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let n = match file.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(io_err("read", path)(e)),
        };
        out.extend_from_slice(&chunk[..n]);
        if out.len() as u64 > bound.bytes {
            return Err(too_large());
        }
        crate::interrupt::check()?;
    }
}

/// Reads file `rel` below `root` whole, within `bound`; `Ok(None)` when missing.
pub fn read_in(root: &Path, rel: &Path, bound: Bound) -> Result<Option<Vec<u8>>, FsError> {
    match open_in(root, rel, Access::Read)? {
        Some(mut f) => read_bounded(&mut f, &root.join(rel), bound).map(Some),
        None => Ok(None),
    }
}

/// Reads `path` whole, within `bound`, not following a symlink at its last component (its
/// directory is the caller's); `Ok(None)` when missing.
pub fn read_file(path: &Path, bound: Bound) -> Result<Option<Vec<u8>>, FsError> {
    let (dir, name) = split(path)?;
    read_in(dir, Path::new(name), bound)
}

#[cfg(test)]
pub(crate) mod tests;
