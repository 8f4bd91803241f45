//! What a forced removal would lose, kept as a commit: the worktree's tracked edits and its
//! untracked (not ignored) files as one tree, whose parent is the branch tip, under
//! `refs/okstra/snapshots/<key>/<n>` (format in docs/formats.md). The tree is built in a
//! temporary index (`GIT_INDEX_FILE`), so the worktree's own index, HEAD and files are never
//! touched.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::git::{check, Git};
use super::LifecycleError;
use crate::fsio::io_err;

/// Where snapshot refs live.
pub const SNAPSHOT_REFS: &str = "refs/okstra/snapshots/";

/// One snapshot commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotInfo {
    /// Its number under the key (1, 2, …).
    pub number: u32,
    /// The full ref name.
    #[serde(rename = "ref")]
    pub ref_name: String,
    pub commit: String,
    /// The branch tip it was taken on (its parent); empty on an unborn branch.
    pub head: String,
    /// The branch the worktree had checked out (empty when detached).
    pub branch: String,
    /// The worktree directory it was taken in.
    pub path: String,
    /// When (`%Y-%m-%dT%H:%M:%S%z`).
    pub taken_at: String,
}

/// The key as one ref-name fragment: `A-Za-z0-9_-` and `/` kept, every other byte
/// (`#`, `.`, spaces, …) as `%XX`, so any key is a valid, reversible ref path.
pub fn encode_key(key: &str) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'/' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The ref prefix of a key's snapshots (ends with `/`).
pub fn key_prefix(key: &str) -> String {
    format!("{SNAPSHOT_REFS}{}/", encode_key(key))
}

/// The trailers a snapshot commit carries.
const TRAILERS: [&str; 4] = [
    "Okstra-Task-Key",
    "Okstra-Branch",
    "Okstra-Path",
    "Okstra-Taken-At",
];

/// Removes the temporary index (and git's lock beside it) however the snapshot ends.
struct TempIndex(PathBuf);

impl Drop for TempIndex {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let mut lock = self.0.clone().into_os_string();
        lock.push(".lock");
        let _ = std::fs::remove_file(lock);
    }
}

/// Records the worktree at `path` (admin dir `admin`) as a snapshot of `key`: returns it.
pub fn take(
    git: &Git,
    path: &Path,
    admin: &Path,
    key: &str,
    branch: Option<&str>,
    head: Option<&str>,
) -> Result<SnapshotInfo, LifecycleError> {
    let index = TempIndex(admin.join(format!("okstra-snapshot-index-{}", std::process::id())));
    // Start from the worktree's own index: its stat data lets `git add` skip the unchanged
    // files instead of hashing every one.
    match std::fs::copy(admin.join("index"), &index.0) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("copy index", &index.0)(e).into()),
    }
    let with_index = |args: &[&str]| {
        let mut cmd = git.command(path);
        cmd.args(args).env("GIT_INDEX_FILE", &index.0);
        cmd
    };
    let out = git.run(
        "snapshot add",
        path,
        &mut with_index(&["add", "--all", "--", "."]),
    )?;
    check("snapshot add", path, &out)?;
    let out = git.run(
        "snapshot write-tree",
        path,
        &mut with_index(&["write-tree"]),
    )?;
    check("snapshot write-tree", path, &out)?;
    let tree = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let taken_at = crate::registry::now_stamp();
    let message = format!(
        "okstra snapshot of {key}\n\nWhat `okstra worktree remove --force` recorded before \
         removing the worktree.\n\n{}: {key}\n{}: {}\n{}: {}\n{}: {taken_at}\n",
        TRAILERS[0],
        TRAILERS[1],
        branch.unwrap_or(""),
        TRAILERS[2],
        path.display(),
        TRAILERS[3],
    );
    let mut cmd = git.command(path);
    cmd.args(["commit-tree", &tree]);
    if let Some(h) = head {
        cmd.args(["-p", h]);
    }
    cmd.args(["-m", &message]);
    for (var, value) in [
        ("GIT_AUTHOR_NAME", "okstra"),
        ("GIT_AUTHOR_EMAIL", "okstra@localhost"),
        ("GIT_COMMITTER_NAME", "okstra"),
        ("GIT_COMMITTER_EMAIL", "okstra@localhost"),
    ] {
        cmd.env(var, value);
    }
    let out = git.run("snapshot commit-tree", path, &mut cmd)?;
    check("snapshot commit-tree", path, &out)?;
    let commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
    publish(git, path, key, commit, head, branch, taken_at)
}

/// Points the next free `refs/okstra/snapshots/<key>/<n>` at `commit`.
fn publish(
    git: &Git,
    path: &Path,
    key: &str,
    commit: String,
    head: Option<&str>,
    branch: Option<&str>,
    taken_at: String,
) -> Result<SnapshotInfo, LifecycleError> {
    // The next free number; `update-ref` with an empty old value refuses a ref that exists,
    // so two removals never share one.
    let mut number = list(git, path, key)?.last().map_or(1, |s| s.number + 1);
    loop {
        let ref_name = format!("{}{number}", key_prefix(key));
        let out = git.output(
            "snapshot update-ref",
            path,
            &[
                "update-ref",
                "-m",
                "okstra: snapshot",
                &ref_name,
                &commit,
                "",
            ],
        )?;
        if out.status.success() {
            return Ok(SnapshotInfo {
                number,
                ref_name,
                commit,
                head: head.unwrap_or("").to_string(),
                branch: branch.unwrap_or("").to_string(),
                path: path.display().to_string(),
                taken_at,
            });
        }
        if number > 100_000 {
            check("snapshot update-ref", path, &out)?;
        }
        number += 1;
    }
}

/// The snapshots of `key` in the repository holding `dir`, oldest (lowest number) first.
pub fn list(git: &Git, dir: &Path, key: &str) -> Result<Vec<SnapshotInfo>, LifecycleError> {
    let prefix = key_prefix(key);
    let text = git.text(
        "snapshot list",
        dir,
        &[
            "for-each-ref",
            "--format=%(refname)%00%(objectname)%00%(parent)%00%(contents:body)%00%00",
            &prefix,
        ],
    )?;
    let mut out = Vec::new();
    for rec in text.split("\0\0").filter(|r| !r.trim().is_empty()) {
        let mut f = rec.trim_start_matches('\n').split('\0');
        let (ref_name, commit, parent, body) = (
            f.next().unwrap_or(""),
            f.next().unwrap_or(""),
            f.next().unwrap_or(""),
            f.next().unwrap_or(""),
        );
        let Some(number) = ref_name
            .strip_prefix(&prefix)
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let trailer = |name: &str| {
            body.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                .unwrap_or("")
                .to_string()
        };
        out.push(SnapshotInfo {
            number,
            ref_name: ref_name.to_string(),
            commit: commit.to_string(),
            head: parent.split_whitespace().next().unwrap_or("").to_string(),
            branch: trailer(TRAILERS[1]),
            path: trailer(TRAILERS[2]),
            taken_at: trailer(TRAILERS[3]),
        });
    }
    out.sort_by_key(|s| s.number);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::encode_key;

    #[test]
    fn keys_encode_to_valid_reversible_refs() {
        assert_eq!(encode_key("shop/pay/t1#stage-2"), "shop/pay/t1%23stage-2");
        assert_eq!(encode_key("p/g/a.lock"), "p/g/a%2Elock");
        assert_eq!(encode_key("p/g/x y"), "p/g/x%20y");
    }
}
