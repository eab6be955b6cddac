//! Weights in safetensors files, exchangeable with PyTorch, written atomically.
//!
//! A file holds every parameter and buffer of a [`Model`] under its full
//! PyTorch `state_dict` name (DESIGN.md, "Parameter names and files"), in
//! PyTorch's shape, row-major, as `F32` or `F64` for the model's float type;
//! `num_batches_tracked` counters are `I64` scalars, as PyTorch writes them.
//! The header's `__metadata__` carries `format: pt` (what
//! `safetensors.torch.save_file` writes), the network's name and the version
//! of `nn` that wrote it.
//!
//! Loading is strict, the way `load_state_dict(strict=True)` is:
//! - every tensor the network has must be in the file, and nothing else;
//! - dtypes must match exactly: an `F64` file does not load into an `f32`
//!   network (PyTorch would convert silently; here the error names both
//!   dtypes, so converting is an explicit step);
//! - shapes must match exactly (`[8]` is not `[1, 8]`);
//! - NaN or infinite values are refused: a checkpoint exists to restore good
//!   weights, and a non-finite one would only poison training later. Saving
//!   refuses them for the same reason, so every file written loads back.
//!
//! Everything is checked before the model is touched: after any error the
//! model is exactly as it was. No input makes the loader panic (fuzzed, see
//! `fuzz/`). Loading weights does not read the metadata, so files written by
//! PyTorch load. A [`Pipeline`] keeps the standardizer and class names of a
//! model there (`nn.standardizer.mean`, `nn.standardizer.scale`,
//! `nn.class_names`: JSON lists), and a training state
//! ([`TrainingState`](crate::train::TrainingState)) its own part (`training_state`).

mod atomic;
mod error;
mod pipeline;
mod safetensors;

pub use self::error::{LoadError, LoadErrorKind, SaveError, SaveErrorKind};
pub use self::pipeline::{Pipeline, PredictError};
pub(crate) use self::safetensors::{bytes_into_snapshot, read_header, snapshot_to_bytes};
pub use self::safetensors::{load_from_bytes, save_to_bytes};

use std::path::Path;

use crate::{kernels::Float, model::Model};

/// Writes `model`'s parameters and buffers to `path` as safetensors.
///
/// The bytes go to a temporary file in the same folder, which is synced and
/// then renamed over `path` (and the folder synced), so `path` always holds
/// either the previous file or the complete new one, whatever happens
/// (crash, full disk). A crash can leave a hidden `.{name}.tmp-*` file
/// beside it; it is never read.
pub fn save_safetensors<T: Float, M: Model<T>>(model: &M, path: impl AsRef<Path>) -> Result<(), SaveError> {
    let path = path.as_ref();
    let bytes = save_to_bytes(model).map_err(|e| e.at(path))?;
    write_atomically(path, &bytes)
}

/// Replaces `path` with `bytes` as [`save_safetensors`] does: the old file
/// or the complete new one, whatever happens.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SaveError> {
    atomic::write(path, bytes).map_err(|(action, source)| SaveError::io(path, action, source))
}

/// Checks, without touching `path`, that a file can be written there
/// atomically: it is not a folder, and its folder takes a new file. A
/// trainer asks before its first step rather than fail after an epoch.
pub(crate) fn check_writable(path: &Path) -> Result<(), SaveError> {
    atomic::check(path).map_err(|(action, source)| SaveError::io(path, action, source))
}

/// Removes the temporary files that writers of `path` killed mid-write left
/// beside it (a resumed run is the successor of the one that died).
pub(crate) fn remove_temporaries(path: &Path) {
    atomic::remove_temporaries(path);
}

/// The bytes of the file at `path`.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|e| LoadError::new(LoadErrorKind::Io(e)).at(path))
}

/// Loads every parameter and buffer of `model` from the safetensors file at
/// `path`, after checking all of them; on error `model` is unchanged.
pub fn load_safetensors_into<T: Float, M: Model<T>>(model: &mut M, path: impl AsRef<Path>) -> Result<(), LoadError> {
    let path = path.as_ref();
    load_from_bytes(model, &read_file(path)?).map_err(|e| e.at(path))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::ops::ControlFlow;
    use std::path::PathBuf;

    use super::*;
    use crate::testing::LayerModel;
    use crate::{
        init::{seeded_rng, Init},
        layers::Dense,
    };

    type Net = LayerModel<f64, Dense<f64, 3, 2>, 3, 2>;

    fn net(seed: u64) -> Net {
        LayerModel::new(Dense::new(&mut seeded_rng(seed), Init::XavierNormal, true))
    }

    fn weights(m: &Net) -> Vec<Vec<f64>> {
        m.parameters().into_iter().map(|p| p.value).collect()
    }

    fn folder(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nn-atomic-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    /// Loads `path` into a fresh network and returns its weights.
    fn load(path: &Path) -> Vec<Vec<f64>> {
        let mut m = net(99);
        load_safetensors_into(&mut m, path).unwrap();
        weights(&m)
    }

    #[test]
    fn the_same_model_always_gives_the_same_bytes() {
        let m = net(1);
        let first = save_to_bytes(&m).unwrap();
        // Each save builds a new metadata map with its own hash seed; unsorted,
        // its order would differ within a few saves.
        for _ in 0..32 {
            assert_eq!(save_to_bytes(&m).unwrap(), first);
        }
        let expected = format!(
            r#"{{"__metadata__":{{"format":"pt","network":"LayerModel","nn_version":"{}"}},"#,
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(&first[8..8 + expected.len()], expected.as_bytes());
    }

    #[test]
    fn a_crash_between_write_and_rename_leaves_the_previous_checkpoint() {
        let dir = folder("crash");
        let path = dir.join("ckpt.safetensors");
        let (old, new) = (net(1), net(2));
        save_safetensors(&old, &path).unwrap();

        // The new checkpoint is fully written and synced, then the process "dies".
        let bytes = save_to_bytes(&new).unwrap();
        let mut left = None;
        atomic::write_with(
            &path,
            |f| f.write_all(&bytes),
            |tmp| {
                left = Some(tmp.to_path_buf());
                ControlFlow::Break(())
            },
        )
        .unwrap();

        assert_eq!(load(&path), weights(&old), "the target must still be the old checkpoint");
        let tmp = left.unwrap();
        assert_eq!(load(&tmp), weights(&new), "the stray temporary file is the complete new one");
        assert!(tmp.file_name().unwrap().to_string_lossy().starts_with(".ckpt.safetensors.tmp-"));

        // After restart, saving again works despite the stray file.
        save_safetensors(&new, &path).unwrap();
        assert_eq!(load(&path), weights(&new));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_full_disk_during_the_write_leaves_the_old_file_whole() {
        let dir = folder("full");
        let path = dir.join("ckpt.safetensors");
        save_safetensors(&net(1), &path).unwrap();
        let old_bytes = std::fs::read(&path).unwrap();

        let bytes = save_to_bytes(&net(2)).unwrap();
        let (action, e) = atomic::write_with(
            &path,
            |f| {
                f.write_all(&bytes[..bytes.len() / 2])?;
                Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left on device"))
            },
            |_| ControlFlow::Continue(()),
        )
        .unwrap_err();
        assert_eq!(action, "writing the temporary file");
        assert_eq!(e.kind(), std::io::ErrorKind::StorageFull);
        assert_eq!(std::fs::read(&path).unwrap(), old_bytes);
        assert_eq!(entries(&dir), ["ckpt.safetensors"], "the partial temporary file must be removed");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failed_rename_leaves_the_target_and_no_temporary_file() {
        let dir = folder("rename");
        // A directory in the way: the temporary file is written, the rename fails.
        let path = dir.join("ckpt.safetensors");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), b"keep").unwrap();
        let e = save_safetensors(&net(1), &path).unwrap_err();
        assert!(matches!(e.kind(), SaveErrorKind::Io { action: "renaming the temporary file over the target", .. }));
        assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
        assert_eq!(std::fs::read(path.join("inside")).unwrap(), b"keep");
        assert_eq!(entries(&dir), ["ckpt.safetensors"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn saving_into_a_missing_folder_is_an_error_naming_the_path() {
        let path = std::env::temp_dir().join("nn-no-such-folder-b7c1/ckpt.safetensors");
        let e = save_safetensors(&net(1), &path).unwrap_err();
        assert!(matches!(
            e.kind(),
            SaveErrorKind::Io { action: "creating a temporary file in the target's folder", .. }
        ));
        assert_eq!(e.path(), Some(path.as_path()));
        assert!(e.to_string().contains("nn-no-such-folder-b7c1"), "{e}");
    }

    #[test]
    fn a_refused_save_leaves_the_old_file_whole() {
        let dir = folder("refused");
        let path = dir.join("ckpt.safetensors");
        save_safetensors(&net(1), &path).unwrap();
        let old_bytes = std::fs::read(&path).unwrap();
        let mut bad = net(2);
        bad.layer.weight_mut()[4] = f64::NAN;
        let e = save_safetensors(&bad, &path).unwrap_err();
        assert!(matches!(e.kind(), SaveErrorKind::NonFinite { index: 4, .. }), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), old_bytes);
        assert_eq!(entries(&dir), ["ckpt.safetensors"]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn saving_twice_replaces_the_file_and_a_path_without_a_file_name_is_refused() {
        let dir = folder("bare");
        let path = dir.join("w.safetensors");
        save_safetensors(&net(1), &path).unwrap();
        save_safetensors(&net(3), &path).unwrap();
        assert_eq!(load(&path), weights(&net(3)));
        assert_eq!(atomic::write(Path::new(""), b"x").unwrap_err().0, "choosing the file");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
