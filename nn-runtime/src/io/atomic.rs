//! Replacing a file so that readers (and a reboot) see either the old file or
//! the complete new one: write a temporary file in the same folder, sync it,
//! rename it over the target, sync the folder.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A failed step, named for the error message, and its cause.
pub(super) type StepError = (&'static str, io::Error);

/// Atomically replaces `path` with `bytes`.
pub(super) fn write(path: &Path, bytes: &[u8]) -> Result<(), StepError> {
    write_with(path, |f| f.write_all(bytes), |_| ControlFlow::Continue(()))
}

/// [`write`] with its two seams open for tests: `fill` writes the content
/// (a test can fail half-way, as a full disk does), and `before_rename` sees
/// the complete, synced temporary file and can `Break` to stop right there,
/// leaving everything as a crash at that moment would.
pub(super) fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
    before_rename: impl FnOnce(&Path) -> ControlFlow<()>,
) -> Result<(), StepError> {
    let (folder, name) = split(path)?;
    let (tmp_path, mut tmp) =
        create_temp(folder, &name).map_err(|e| ("creating a temporary file in the target's folder", e))?;

    let written = fill(&mut tmp)
        .map_err(|e| ("writing the temporary file", e))
        .and_then(|()| tmp.sync_all().map_err(|e| ("syncing the temporary file", e)));
    drop(tmp);
    if let Err(e) = written {
        // Best effort: the target is intact either way, the stray file is only clutter.
        let _ = fs::remove_file(&tmp_path);
        return Err(e);
    }
    if before_rename(&tmp_path).is_break() {
        return Ok(());
    }
    if let Err(e) = fs::rename(&tmp_path, path) {
        let _ = fs::remove_file(&tmp_path);
        return Err(("renaming the temporary file over the target", e));
    }
    sync_folder(folder);
    Ok(())
}

/// The file name of `path` and its folder (`.` for a bare name).
fn split(path: &Path) -> Result<(&Path, String), StepError> {
    let Some(file_name) = path.file_name() else {
        let e = io::Error::new(io::ErrorKind::InvalidInput, "the path does not end in a file name");
        return Err(("choosing the file", e));
    };
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok((folder, file_name.to_string_lossy().into_owned()))
}

/// What [`write`] would meet first, found without touching `path`: a
/// folder in its place, a path without a file name, a folder that takes no
/// new file (read-only, missing, not a folder). The probe creates and
/// removes a temporary file as [`write`] does.
pub(super) fn check(path: &Path) -> Result<(), StepError> {
    if path.is_dir() {
        let e = io::Error::new(io::ErrorKind::IsADirectory, "the path is a folder; give a file name inside it");
        return Err(("checking the target", e));
    }
    let (folder, name) = split(path)?;
    let (tmp_path, tmp) =
        create_temp(folder, &name).map_err(|e| ("creating a temporary file in the target's folder", e))?;
    drop(tmp);
    // Best effort, as after a failed write: the probe is empty and hidden.
    let _ = fs::remove_file(tmp_path);
    Ok(())
}

/// Removes every `.{name}.tmp-*` beside `path`: files [`write`] left when
/// its process died before the rename. Best effort; they are never read.
pub(super) fn remove_temporaries(path: &Path) {
    let Ok((folder, name)) = split(path) else { return };
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = fs::read_dir(folder) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Creates `.{name}.tmp-{pid}-{n}` in `folder`, a name no other writer uses.
fn create_temp(folder: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut last = None;
    // Only a stale file left by an earlier process with the same pid can
    // collide; a few fresh numbers get past it.
    for _ in 0..16 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let candidate = folder.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&candidate) {
            Ok(f) => return Ok((candidate, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
}

/// Makes the rename itself durable. Some platforms and file systems cannot
/// sync a folder; the new file is complete and in place regardless, so a
/// failure here is not reported.
fn sync_folder(folder: &Path) {
    #[cfg(unix)]
    if let Ok(dir) = File::open(folder) {
        let _ = dir.sync_all();
    }
    #[cfg(not(unix))]
    let _ = folder;
}
