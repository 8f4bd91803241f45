//! The operating-system-specific calls, one function per feature, each with a Linux and a
//! macOS body (`linux.rs`, `macos.rs`). The rest of the crate calls these and holds no
//! `cfg(target_os)` of its own, so a new platform is one new file here.
//!
//! What a platform cannot do is said in the function's doc, never left to fail silently:
//! - Linux has no whole-directory clone ([`clone_tree`] returns `Ok(false)`; the caller
//!   clones file by file with `FICLONE`).
//! - On macOS, [`on_ram_fs`] knows only `tmpfs` by name (macOS ships no tmpfs by default;
//!   a RAM disk made with `hdiutil` is an ordinary APFS/HFS volume and counts as a disk).
//! - Windows is not supported at all (flock, symlinks, the Python helper): README, Install.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as imp;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
use macos as imp;

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
compile_error!(
    "okstra builds for Linux and macOS only: src/platform/ has no implementation for this \
     operating system (flock, symlinks and /proc-style process listing are needed)"
);

use std::io;
use std::path::Path;

/// Whether `dir` lies on a RAM file system (Linux: tmpfs or ramfs by `statfs` magic; macOS:
/// a file system whose type name is `tmpfs`). `false` when `dir` cannot be examined.
pub fn on_ram_fs(dir: &Path) -> bool {
    imp::on_ram_fs(dir)
}

/// Bytes that differ from one boot of the machine to the next and stay the same within one
/// (Linux: `/proc/sys/kernel/random/boot_id`; macOS: `kern.boottime`). Empty when the system
/// does not tell, which makes every boot look the same to the caller.
pub fn boot_id() -> Vec<u8> {
    imp::boot_id()
}

/// Processes other than this one whose working directory lies under `path`, whose command
/// line names `path`, or that hold a file under `path` open, read through `proc_pidinfo`
/// and the `KERN_PROCARGS2` sysctl (the current user's processes; all of them as root).
/// The Linux body, which reads `/proc`, is `worktree::holders` itself.
#[cfg(target_os = "macos")]
pub fn holders(path: &Path) -> Vec<u32> {
    imp::holders(path)
}

/// Clones the whole directory tree `src` to `dst` (which must not exist) in one call where
/// the system has one: macOS `clonefile(2)` on APFS. `Ok(false)` when it cannot (Linux has
/// no whole-tree clone; on macOS another file system, or another volume): the caller then
/// copies the tree itself. Symlinks inside are cloned as symlinks, never followed.
pub fn clone_tree(src: &Path, dst: &Path) -> io::Result<bool> {
    imp::clone_tree(src, dst)
}
