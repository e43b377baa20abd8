//! The picture of a built model ([`ModelFormat::Png`]), drawn by the worker
//! from the STL the run exported, after FreeCAD has exited: no GPU, no
//! display and no FreeCAD GUI needed. The STL was written inside the
//! sandbox, so it is read like any output of the script: no symlinks, no
//! more than the run's file-size limit, parsed by the bounded reader of the
//! `render` crate.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use domain::ModelFormat;

use crate::MODEL_BASENAME;

/// Draws the picture of `stl` into `out_dir`; returns its path. Runs on a
/// blocking thread: drawing is a few tens of milliseconds of CPU.
pub async fn draw(stl: PathBuf, out_dir: PathBuf, max_bytes: u64) -> Result<PathBuf, String> {
    tokio::task::spawn_blocking(move || draw_now(&stl, &out_dir, max_bytes))
        .await
        .map_err(|e| format!("drawing the picture stopped: {e}"))?
}

fn draw_now(stl: &Path, out_dir: &Path, max_bytes: u64) -> Result<PathBuf, String> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(stl)
        .map_err(|e| format!("cannot read the STL: {e}"))?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err("the STL is not a plain file".into());
    }
    let mut bytes = Vec::new();
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the STL: {e}"))?;
    if bytes.len() as u64 > max_bytes {
        return Err(format!("the STL is larger than {} MiB", max_bytes >> 20));
    }
    let png = render::picture(&bytes, render::Options::default()).map_err(|e| e.to_string())?;

    let path = out_dir.join(format!("{MODEL_BASENAME}.{}", ModelFormat::Png.extension()));
    // Whatever the script left under this name goes; the new file is
    // created, never opened through a link.
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot replace the picture: {e}")),
    }
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&path)
        .and_then(|mut f| f.write_all(&png))
        .map_err(|e| format!("cannot write the picture: {e}"))?;
    Ok(path)
}
