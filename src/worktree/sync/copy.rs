//! The `copy` kind: a private, writable copy of a file or a directory tree, made
//! copy-on-write where the filesystem can (FICLONE on Linux btrfs/xfs, clonefile on macOS)
//! and byte for byte otherwise. Modes are kept; symlinks inside the tree are recreated as
//! symlinks with the same target (never followed); files are copied in parallel.

use std::fs;
use std::io;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

/// How an entry was copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// Every file shares its extents with the source (reflink); nothing was read or written.
    Cloned,
    /// At least one file was copied byte for byte (the filesystem cannot clone, or the
    /// source lies on another filesystem).
    Copied,
}

/// What copying one entry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub how: How,
    pub files: u64,
    pub cloned_files: u64,
    /// FIFOs, sockets and devices, which are not copied.
    pub skipped_special: u64,
}

/// Removes a partly made copy unless defused: an entry is either fully copied or absent.
struct PartialCopy<'a> {
    dst: &'a Path,
    armed: bool,
}

impl Drop for PartialCopy<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = make_writable_tree(self.dst);
            let _ = match self.dst.symlink_metadata() {
                Ok(m) if m.is_dir() => fs::remove_dir_all(self.dst),
                Ok(_) => fs::remove_file(self.dst),
                Err(_) => Ok(()),
            };
        }
    }
}

/// Gives the owner write access to every directory under `dir` so a rollback can delete
/// read-only subtrees.
fn make_writable_tree(dir: &Path) -> io::Result<()> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let m = d.symlink_metadata()?;
        if !m.is_dir() {
            continue;
        }
        let _ = fs::set_permissions(&d, fs::Permissions::from_mode(m.mode() | 0o700));
        for e in fs::read_dir(&d)?.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    Ok(())
}

/// The largest file copied byte for byte (a larger one is carried only when the filesystem
/// clones it): a repository's 1 GiB file must not stall provisioning, which holds its locks.
pub const MAX_BYTE_COPY: u64 = 256 << 20;

/// Refuses a file larger than [`MAX_BYTE_COPY`] for a byte copy, naming the file, its size
/// and the bound (docs/security.md): the entry holding it is then not carried, and the
/// caller's note says so. Inside a copied directory the whole entry is refused (nothing of
/// it is left), never carried with a file missing.
pub fn check_byte_copy(src: &Path) -> io::Result<()> {
    let len = src.symlink_metadata()?.len();
    if len > MAX_BYTE_COPY {
        return Err(io::Error::other(format!(
            "{} is {len} bytes ({} MiB), more than the {MAX_BYTE_COPY} bytes ({} MiB) okstra \
             copies byte for byte, and this filesystem cannot clone it; carry it yourself \
             (or on a filesystem with reflinks: btrfs, XFS, APFS), or drop it from the copy \
             entries",
            src.display(),
            len >> 20,
            MAX_BYTE_COPY >> 20
        )));
    }
    Ok(())
}

/// Clones `src` to the new file `dst`, falling back to a byte copy (up to
/// [`MAX_BYTE_COPY`]); keeps the mode. Returns whether it was cloned.
fn copy_file(src: &Path, dst: &Path) -> io::Result<bool> {
    if src.symlink_metadata()?.len() > MAX_BYTE_COPY {
        return match reflink_copy::reflink(src, dst) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
            Err(_) => {
                let _ = fs::remove_file(dst);
                check_byte_copy(src).map(|()| false)
            }
        };
    }
    match reflink_copy::reflink_or_copy(src, dst) {
        Ok(how) => Ok(how.is_none()),
        // `dst` was someone else's: leave it.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(e) => {
            // A byte copy cut short (a full disk) leaves no partial file.
            let _ = fs::remove_file(dst);
            Err(e)
        }
    }
}

/// Copies `src` (a file or directory, not a symlink) to `dst`, which must not exist.
/// Directories are created first (owner-writable while filling), symlinks recreated, then
/// the files are cloned or copied in parallel, then directory modes are restored deepest
/// first. On any error nothing is left at `dst`.
pub fn copy_entry(src: &Path, dst: &Path) -> io::Result<Copied> {
    let meta = src.symlink_metadata()?;
    if !meta.is_dir() {
        // Creates `dst` exclusively (an existing path is an error, never overwritten) and
        // removes it again when cloning and copying both fail.
        let cloned = copy_file(src, dst)?;
        return Ok(Copied {
            how: if cloned { How::Cloned } else { How::Copied },
            files: 1,
            cloned_files: u64::from(cloned),
            skipped_special: 0,
        });
    }
    // One call for the whole tree where the system has one (macOS clonefile on APFS); an
    // existing `dst` is an error there too and stays.
    if crate::platform::clone_tree(src, dst)? {
        let mut guard = PartialCopy { dst, armed: true };
        let result = count_cloned_tree(dst)?;
        guard.armed = false;
        return Ok(result);
    }
    // Made exclusively before the guard is armed: an existing `dst` is an error and stays.
    fs::create_dir(dst)?;
    let mut guard = PartialCopy { dst, armed: true };
    let result = copy_tree(src, dst)?;
    guard.armed = false;
    Ok(result)
}

/// Counts the files of a tree cloned whole and removes the FIFOs, sockets and devices the
/// clone brought along, which a copy never carries.
fn count_cloned_tree(dst: &Path) -> io::Result<Copied> {
    let (mut files, mut skipped_special) = (0, 0);
    let mut stack = vec![dst.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d)? {
            let e = e?;
            let t = e.file_type()?;
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                files += 1;
            } else if !t.is_symlink() {
                fs::remove_file(e.path())?;
                skipped_special += 1;
            }
        }
    }
    Ok(Copied {
        how: How::Cloned,
        files,
        cloned_files: files,
        skipped_special,
    })
}

fn copy_tree(src: &Path, dst: &Path) -> io::Result<Copied> {
    let mut dirs: Vec<(PathBuf, u32)> = Vec::new();
    let mut files: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut skipped_special = 0;
    let mut stack = vec![(src.to_path_buf(), dst.to_path_buf())];
    while let Some((s, d)) = stack.pop() {
        let m = s.symlink_metadata()?;
        if d != dst {
            fs::create_dir(&d)?;
        }
        fs::set_permissions(&d, fs::Permissions::from_mode(0o700))?;
        dirs.push((d.clone(), m.mode() & 0o7777));
        for e in fs::read_dir(&s)? {
            let e = e?;
            let t = e.file_type()?;
            let (cs, cd) = (e.path(), d.join(e.file_name()));
            if t.is_dir() {
                stack.push((cs, cd));
            } else if t.is_symlink() {
                symlink(fs::read_link(&cs)?, &cd)?;
            } else if t.is_file() {
                files.push((cs, cd));
            } else {
                skipped_special += 1;
            }
        }
    }
    let cloned_files = files
        .par_iter()
        .map(|(s, d)| copy_file(s, d).map(u64::from))
        .try_reduce(|| 0, |a, b| Ok(a + b))?;
    for (d, mode) in dirs.iter().rev() {
        fs::set_permissions(d, fs::Permissions::from_mode(*mode))?;
    }
    let n = files.len() as u64;
    Ok(Copied {
        how: if cloned_files == n && n > 0 {
            How::Cloned
        } else {
            How::Copied
        },
        files: n,
        cloned_files,
        skipped_special,
    })
}
