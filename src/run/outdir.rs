//! The run-directory commit (docs/reliability.md): every check on `--out`
//! happens before the simulation, the run is staged in `DIR.partial/` under
//! a lock (`DIR.lock`, `flock`, released when the process dies), and it is
//! published by one `rename`. `--force` replaces only a finished run of this
//! tool (its marker); nothing else is ever deleted.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};

use crate::rundir::marker::{read_marker, write_marker, PARTIAL_SUFFIX};
use crate::usage;

/// `--out` without trailing slashes or `.` components; the last component
/// must be a plain name (not `.`, `..` or `/`).
pub fn normalise(out: &Path) -> Result<PathBuf> {
    let clean: PathBuf = out
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    match clean.components().next_back() {
        Some(Component::Normal(_)) => Ok(clean),
        _ => Err(usage!(
            "--out `{}` does not name a directory to create; give a path ending in a new \
             directory name, e.g. runs/latest",
            out.display()
        )),
    }
}

/// `out` with `suffix` appended to its last component.
fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// What `--out` is now.
enum Target {
    Absent,
    /// An empty directory (under `--force`: nothing is lost replacing it).
    EmptyDir,
    /// A finished run of this tool.
    Run,
}

/// Classifies `out`, refusing anything that may not be replaced.
fn inspect(out: &Path, force: bool) -> Result<Target> {
    let meta = match std::fs::symlink_metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Target::Absent),
        Err(e) => return Err(usage!("--out {}: cannot inspect it: {e}", out.display())),
    };
    if !meta.is_dir() {
        return Err(usage!(
            "--out {} exists and is not a directory (a file, link or device); refusing to \
             replace it even with --force; choose another --out",
            out.display()
        ));
    }
    let mut entries = std::fs::read_dir(out)
        .map_err(|e| usage!("--out {}: cannot list it: {e}", out.display()))?;
    let empty = entries.next().is_none();
    if !empty && !read_marker(out).is_some_and(|m| m.complete) {
        return Err(usage!(
            "--out {} exists and is not a finished seqlearn-nest run (no complete marker \
             file); --force only replaces run directories this tool wrote; choose another --out",
            out.display()
        ));
    }
    if !force {
        return Err(usage!(
            "output directory {} already exists; choose another --out or pass --force to \
             replace it",
            out.display()
        ));
    }
    Ok(if empty { Target::EmptyDir } else { Target::Run })
}

/// An exclusive `flock` on `DIR.lock`; the file is removed on drop.
struct Lock {
    path: PathBuf,
    _file: File,
}

const LOCK_TEXT: &str = "seqlearn-nest run lock\n";

impl Lock {
    fn acquire(out: &Path) -> Result<Lock> {
        let path = sibling(out, ".lock");
        // A holder removes the file before unlocking; retry when the file we
        // locked is no longer the one at `path`.
        for _ in 0..8 {
            let file = Self::open(&path)?;
            // SAFETY: flock on a file descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                return Err(usage!(
                    "another seqlearn-nest run is writing {} (lock {} is held); wait for it \
                     or choose another --out",
                    out.display(),
                    path.display()
                ));
            }
            let same = std::fs::metadata(&path)
                .ok()
                .zip(file.metadata().ok())
                .is_some_and(|(a, b)| a.ino() == b.ino() && a.dev() == b.dev());
            if same {
                return Ok(Lock { path, _file: file });
            }
        }
        Err(usage!(
            "cannot lock {}: it keeps changing (another run?)",
            path.display()
        ))
    }

    fn open(path: &Path) -> Result<File> {
        let cannot = |e: std::io::Error| {
            usage!(
                "cannot create the lock file {}: {e}; choose a writable --out",
                path.display()
            )
        };
        match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(mut f) => {
                f.write_all(LOCK_TEXT.as_bytes()).map_err(cannot)?;
                Ok(f)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                OpenOptions::new().read(true).open(path).map_err(cannot)
            }
            Err(e) => Err(cannot(e)),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Only our own lock file (never a user's file of that name).
        let mut text = String::new();
        let ours = File::open(&self.path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .is_ok()
            && text == LOCK_TEXT;
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A staging directory `DIR.partial/` held under the lock of `DIR`.
pub struct Staging {
    out: PathBuf,
    partial: PathBuf,
    force: bool,
    _lock: Lock,
}

impl Staging {
    /// Checks `out` and creates the staging directory; every refusal happens
    /// here, before any simulation.
    pub fn begin(out: &Path, force: bool) -> Result<Staging> {
        let out = normalise(out)?;
        inspect(&out, force)?;
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                usage!(
                    "--out {}: cannot create its parent directory {}: {e}",
                    out.display(),
                    parent.display()
                )
            })?;
        }
        let lock = Lock::acquire(&out)?;
        inspect(&out, force)?; // again: another run may have finished meanwhile
        let partial = sibling(&out, PARTIAL_SUFFIX);
        remove_stale(&partial)?;
        std::fs::create_dir(&partial).map_err(|e| {
            usage!(
                "cannot create output directory {}: {e}; choose a writable --out",
                partial.display()
            )
        })?;
        write_marker(&partial, false)?;
        Ok(Staging {
            out,
            partial,
            force,
            _lock: lock,
        })
    }

    /// The directory to write the run into.
    pub fn path(&self) -> &Path {
        &self.partial
    }

    /// The final directory.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Marks the run finished and renames it into place (replacing a
    /// finished run only under `--force`).
    pub fn commit(self) -> Result<PathBuf> {
        write_marker(&self.partial, true)?;
        match inspect(&self.out, self.force)? {
            Target::Absent | Target::EmptyDir => {
                std::fs::rename(&self.partial, &self.out).with_context(|| {
                    format!(
                        "moving {} to {}",
                        self.partial.display(),
                        self.out.display()
                    )
                })?;
            }
            Target::Run => self.replace()?,
        }
        Ok(self.out.clone())
    }

    /// Swaps a finished old run for the new one: old → `DIR.replaced`,
    /// new → `DIR`, then the old one is deleted.
    fn replace(&self) -> Result<()> {
        let old = sibling(&self.out, ".replaced");
        remove_stale(&old)?;
        std::fs::rename(&self.out, &old)
            .with_context(|| format!("moving the old run {} aside", self.out.display()))?;
        if let Err(e) = std::fs::rename(&self.partial, &self.out) {
            let _ = std::fs::rename(&old, &self.out);
            return Err(e).with_context(|| format!("moving the run to {}", self.out.display()));
        }
        std::fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))
    }

    /// Removes the staging directory after a failure (the tool made it).
    pub fn abandon(self) {
        let _ = std::fs::remove_dir_all(&self.partial);
    }
}

/// Removes a leftover staging directory of an interrupted run, refusing one
/// this tool did not write.
fn remove_stale(dir: &Path) -> Result<()> {
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(_) => return Ok(()),
    };
    if !meta.is_dir() || read_marker(dir).is_none() {
        return Err(usage!(
            "{} exists and was not written by seqlearn-nest; move it away or choose another --out",
            dir.display()
        ));
    }
    std::fs::remove_dir_all(dir).with_context(|| format!("removing stale {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_strips_trailing_slashes_and_refuses_dot() {
        assert_eq!(normalise(Path::new("a/b/")).unwrap(), Path::new("a/b"));
        assert_eq!(normalise(Path::new("./a//b/.")).unwrap(), Path::new("a/b"));
        for bad in [".", "..", "/", "a/..", ""] {
            let e = normalise(Path::new(bad)).unwrap_err();
            assert!(crate::error::is_usage(&e), "{bad}");
        }
    }

    #[test]
    fn force_never_replaces_a_foreign_directory_or_file() {
        let d = tempfile::tempdir().unwrap();
        let foreign = d.path().join("thesis");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("ch1.tex"), "x").unwrap();
        let file = d.path().join("notes.txt");
        std::fs::write(&file, "x").unwrap();
        for p in [&foreign, &file] {
            let e = Staging::begin(p, true).err().expect("refused");
            assert!(crate::error::is_usage(&e));
        }
        assert!(foreign.join("ch1.tex").exists() && file.exists());
        assert!(!d.path().join("thesis.partial").exists());
    }

    #[test]
    fn commit_replaces_only_a_finished_run_and_a_second_writer_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("run");
        let s = Staging::begin(&out, false).unwrap();
        std::fs::write(s.path().join("a.txt"), "1").unwrap();
        let e = Staging::begin(&out, true).err().expect("locked");
        assert!(format!("{e:#}").contains("another"), "{e:#}");
        s.commit().unwrap();
        assert!(!d.path().join("run.lock").exists());
        assert!(Staging::begin(&out, false).is_err(), "exists, no --force");
        let s = Staging::begin(&out, true).unwrap();
        std::fs::write(s.path().join("b.txt"), "2").unwrap();
        s.commit().unwrap();
        assert!(out.join("b.txt").exists() && !out.join("a.txt").exists());
        assert!(!d.path().join("run.replaced").exists());
    }
}
