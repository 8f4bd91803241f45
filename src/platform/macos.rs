//! macOS bodies of [`super`]'s functions: `statfs` with a 32-bit `f_type` and a type
//! name, `kern.boottime`, libproc (`proc_listallpids`, `proc_pidinfo`, `proc_pidfdinfo`)
//! and `KERN_PROCARGS2` for the processes inside a directory, `clonefile(2)` for a tree.

use std::ffi::{CStr, CString};
use std::io;
use std::mem::{size_of, zeroed};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub fn on_ram_fs(dir: &Path) -> bool {
    let Ok(c) = CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a NUL-terminated path that outlives the call and `st` is a zeroed
    // `statfs` buffer of the size the call writes.
    let mut st: libc::statfs = unsafe { zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return false;
    }
    // SAFETY: the kernel NUL-terminates `f_fstypename` within its 16 bytes.
    let name = unsafe { CStr::from_ptr(st.f_fstypename.as_ptr()) };
    name.to_bytes() == b"tmpfs"
}

pub fn boot_id() -> Vec<u8> {
    let mut tv: libc::timeval = unsafe { zeroed() };
    let mut len = size_of::<libc::timeval>();
    // SAFETY: the name is NUL-terminated; `tv` and `len` describe a buffer of that size.
    let rc = unsafe {
        libc::sysctlbyname(
            c"kern.boottime".as_ptr(),
            (&raw mut tv).cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        return Vec::new();
    }
    let mut id = tv.tv_sec.to_le_bytes().to_vec();
    id.extend_from_slice(&tv.tv_usec.to_le_bytes());
    id
}

/// `struct proc_fileinfo` (sys/proc_info.h), which the libc crate does not declare.
#[repr(C)]
struct ProcFileInfo {
    fi_openflags: u32,
    fi_status: u32,
    fi_offset: libc::off_t,
    fi_type: i32,
    fi_guardflags: u32,
}

/// `struct vnode_fdinfowithpath` (sys/proc_info.h).
#[repr(C)]
struct VnodeFdInfoWithPath {
    pfi: ProcFileInfo,
    pvip: libc::vnode_info_path,
}

/// `PROC_PIDFDVNODEPATHINFO` (sys/proc_info.h).
const PROC_PIDFDVNODEPATHINFO: libc::c_int = 2;

/// The NUL-terminated path in a `vnode_info_path`, as bytes.
fn vip_path(vip: &libc::vnode_info_path) -> &[u8] {
    // SAFETY: `vip_path` is MAXPATHLEN contiguous `c_char`s (declared as 32 x 32).
    let bytes: &[u8] = unsafe {
        std::slice::from_raw_parts(
            vip.vip_path.as_ptr().cast::<u8>(),
            size_of_val(&vip.vip_path),
        )
    };
    bytes.split(|b| *b == 0).next().unwrap_or_default()
}

fn all_pids() -> Vec<libc::pid_t> {
    // SAFETY: a null buffer asks for the number of processes.
    let n = unsafe { libc::proc_listallpids(std::ptr::null_mut(), 0) };
    let Ok(n) = usize::try_from(n) else {
        return Vec::new();
    };
    // Room for processes started since the count.
    let mut pids: Vec<libc::pid_t> = vec![0; n + 64];
    let bytes = libc::c_int::try_from(pids.len() * size_of::<libc::pid_t>()).unwrap_or(0);
    // SAFETY: `pids` holds `bytes` bytes.
    let got = unsafe { libc::proc_listallpids(pids.as_mut_ptr().cast(), bytes) };
    pids.truncate(usize::try_from(got).unwrap_or(0));
    pids.retain(|p| *p > 0);
    pids
}

fn cwd_inside(pid: libc::pid_t, path: &[u8]) -> bool {
    let mut info: libc::proc_vnodepathinfo = unsafe { zeroed() };
    let size = size_of::<libc::proc_vnodepathinfo>() as libc::c_int;
    // SAFETY: `info` is a buffer of `size` bytes for this flavor.
    let got = unsafe {
        libc::proc_pidinfo(
            pid,
            libc::PROC_PIDVNODEPATHINFO,
            0,
            (&raw mut info).cast(),
            size,
        )
    };
    got == size && under(vip_path(&info.pvi_cdir), path)
}

fn fd_inside(pid: libc::pid_t, path: &[u8]) -> bool {
    // SAFETY: a null buffer asks for the size of the descriptor list.
    let bytes =
        unsafe { libc::proc_pidinfo(pid, libc::PROC_PIDLISTFDS, 0, std::ptr::null_mut(), 0) };
    let Ok(bytes) = usize::try_from(bytes) else {
        return false;
    };
    let mut fds: Vec<libc::proc_fdinfo> =
        Vec::with_capacity(bytes / size_of::<libc::proc_fdinfo>() + 16);
    let room = libc::c_int::try_from(fds.capacity() * size_of::<libc::proc_fdinfo>()).unwrap_or(0);
    // SAFETY: `fds` has room for `room` bytes; the kernel writes whole records.
    let got =
        unsafe { libc::proc_pidinfo(pid, libc::PROC_PIDLISTFDS, 0, fds.as_mut_ptr().cast(), room) };
    let Ok(got) = usize::try_from(got) else {
        return false;
    };
    // SAFETY: the kernel initialised `got` bytes of whole records.
    unsafe { fds.set_len(got / size_of::<libc::proc_fdinfo>()) };
    fds.iter()
        .filter(|fd| i64::from(fd.proc_fdtype) == i64::from(libc::PROX_FDTYPE_VNODE))
        .any(|fd| {
            let mut info: VnodeFdInfoWithPath = unsafe { zeroed() };
            let size = size_of::<VnodeFdInfoWithPath>() as libc::c_int;
            // SAFETY: `info` is a buffer of `size` bytes for this flavor.
            let got = unsafe {
                libc::proc_pidfdinfo(
                    pid,
                    fd.proc_fd,
                    PROC_PIDFDVNODEPATHINFO,
                    (&raw mut info).cast(),
                    size,
                )
            };
            got == size && under(vip_path(&info.pvip), path)
        })
}

/// Whether `pid` is a `git` with `path` itself as one whole argument
/// ([`crate::worktree::holders::git_naming`], the rule Linux applies to
/// `/proc/<pid>/cmdline`). KERN_PROCARGS2 holds argc, the executable path, NUL padding,
/// then the argc NUL-terminated arguments (`argv[0]` first) and the environment.
fn names(pid: libc::pid_t, path: &Path) -> bool {
    let mut mib = [libc::CTL_KERN, libc::KERN_PROCARGS2, pid];
    let mut len: libc::size_t = 0;
    // SAFETY: a null buffer asks for the size.
    if unsafe {
        libc::sysctl(
            mib.as_mut_ptr(),
            3,
            std::ptr::null_mut(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    } != 0
    {
        return false;
    }
    let mut buf = vec![0u8; len];
    // SAFETY: `buf` holds `len` bytes.
    if unsafe {
        libc::sysctl(
            mib.as_mut_ptr(),
            3,
            buf.as_mut_ptr().cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    } != 0
    {
        return false;
    }
    buf.truncate(len);
    let (Some(head), Some(rest)) = (
        buf.get(..size_of::<libc::c_int>()),
        buf.get(size_of::<libc::c_int>()..),
    ) else {
        return false;
    };
    let argc = head
        .try_into()
        .map(libc::c_int::from_ne_bytes)
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    // The executable path, the padding after it, then argv (the environment after argc).
    let mut parts = rest.split(|b| *b == 0).skip_while(|a| a.is_empty());
    let _exec_path = parts.next();
    let argv: Vec<&[u8]> = parts.skip_while(|a| a.is_empty()).take(argc).collect();
    crate::worktree::holders::git_naming(&argv.join(&0u8), path)
}

fn under(p: &[u8], path: &[u8]) -> bool {
    Path::new(std::ffi::OsStr::from_bytes(p))
        .starts_with(Path::new(std::ffi::OsStr::from_bytes(path)))
}

pub fn holders(path: &Path) -> Vec<u32> {
    let me = std::process::id();
    let needle = path.as_os_str().as_bytes();
    all_pids()
        .into_iter()
        .filter_map(|pid| {
            u32::try_from(pid)
                .ok()
                .filter(|p| *p != me)
                .map(|p| (pid, p))
        })
        .filter(|&(pid, _)| names(pid, path) || cwd_inside(pid, needle) || fd_inside(pid, needle))
        .map(|(_, p)| p)
        .collect()
}

/// `CLONE_NOFOLLOW | CLONE_NOOWNERCOPY` (sys/clonefile.h): clone a symlink at `src` as a
/// symlink, and make the clone owned by this process's user.
const CLONE_FLAGS: u32 = 0x0001 | 0x0002;

pub fn clone_tree(src: &Path, dst: &Path) -> io::Result<bool> {
    let s = CString::new(src.as_os_str().as_bytes())?;
    let d = CString::new(dst.as_os_str().as_bytes())?;
    // SAFETY: both are NUL-terminated paths that outlive the call.
    if unsafe { libc::clonefile(s.as_ptr(), d.as_ptr(), CLONE_FLAGS) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        // Not APFS, across volumes, or unsupported here: the caller copies.
        Some(libc::ENOTSUP | libc::EXDEV | libc::EINVAL) => Ok(false),
        _ => Err(e),
    }
}
