//! A model with what its inputs go through first and the names of its
//! outputs' classes, saved together in one weights file.

use std::collections::BTreeMap;
use std::path::Path;

use nalgebra::DMatrix;

use super::error::{LoadError, LoadErrorKind, SaveError};
use super::safetensors::{model_to_bytes, read_header};
use super::{load_from_bytes, read_file, write_atomically};
use crate::data::{DataError, Standardizer};
use crate::loss::predicted_classes;
use crate::{error::ShapeError, kernels::Float, model::Model};

/// The metadata keys of the preprocessing; a file without them (an older
/// one, or PyTorch's) loads as a model without preprocessing.
const MEAN: &str = "nn.standardizer.mean";
const SCALE: &str = "nn.standardizer.scale";
const CLASS_NAMES: &str = "nn.class_names";

/// A model with the [`Standardizer`] fitted on its training data and the
/// names of its classes, so that a loaded model predicts from raw rows and
/// says which class it sees.
///
/// [`Pipeline::save`] writes the model's weights file (the same tensors as
/// [`save_safetensors`](super::save_safetensors), so PyTorch reads it) with
/// the standardizer's means and scales and the class names in its metadata;
/// [`Pipeline::load`] fills a network with the weights and returns it with
/// its preprocessing. The network itself stays a function of standardized
/// inputs, as it was trained; [`Pipeline::predict_rows`] standardizes first.
///
/// ```
/// # #[cfg(feature = "datasets")] fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # use nn_runtime as nn;
/// use nn::data::{iris, Standardizer};
/// use nn::io::Pipeline;
/// use nn::optim::Adam;
/// use nn::testing::LayerModel;
/// use nn::{seeded_rng, Dense, Init, Trainer};
///
/// let net = || LayerModel::new(Dense::<f64, 4, 3>::new(&mut seeded_rng(0), Init::XavierNormal, true));
/// let raw = iris::<f64>();
/// let scaler = Standardizer::fit(&raw)?;
/// let mut train = raw.clone();
/// scaler.apply(&mut train)?;
/// let mut model = net();
/// Trainer::new(Adam::new(0.05)).epochs(30).quiet().fit(&mut model, &train, None)?;
///
/// let path = std::env::temp_dir().join(format!("nn-doc-pipeline-{}.safetensors", std::process::id()));
/// Pipeline::new(model).with_standardizer(scaler)?.with_class_names(["setosa", "versicolor", "virginica"])?.save(&path)?;
///
/// // Elsewhere: a fresh network of the same shape, raw measurements in.
/// let loaded = Pipeline::load(net(), &path)?;
/// let flowers = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]];
/// let names: Vec<&str> = loaded.classify_rows(&flowers)?.into_iter().map(|c| loaded.class_name(c).unwrap()).collect();
/// assert_eq!(names, ["setosa", "virginica"]);
/// # std::fs::remove_file(&path)?;
/// # Ok(()) }
/// # #[cfg(not(feature = "datasets"))] fn main() {}
/// ```
#[derive(Clone, Debug)]
pub struct Pipeline<T: Float, M> {
    model: M,
    standardizer: Option<Standardizer<T>>,
    class_names: Option<Vec<String>>,
}

/// Rows that cannot be predicted from.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PredictError {
    /// A row has the wrong length, or holds NaN or infinity.
    #[error("{0}")]
    Data(#[from] DataError),
    /// The model refused the inputs.
    #[error("{0}")]
    Shape(#[from] ShapeError),
}

impl<T: Float, M: Model<T>> Pipeline<T, M> {
    /// `model` without preprocessing or class names.
    pub fn new(model: M) -> Self {
        Self { model, standardizer: None, class_names: None }
    }

    /// Standardizes every row before the model sees it; its width must be the model's input.
    pub fn with_standardizer(mut self, standardizer: Standardizer<T>) -> Result<Self, DataError> {
        if !M::accepts_rows(standardizer.width()) {
            return Err(DataError::Width { expected: M::INPUT, found: standardizer.width() });
        }
        self.standardizer = Some(standardizer);
        Ok(self)
    }

    /// Names output `i` (a class) `names[i]`; one name per output.
    pub fn with_class_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Result<Self, DataError> {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        if names.len() != M::OUTPUT {
            return Err(DataError::ClassNames { names: names.len(), classes: Some(M::OUTPUT) });
        }
        self.class_names = Some(names);
        Ok(self)
    }

    /// The network.
    pub fn model(&self) -> &M {
        &self.model
    }
    /// The network, to train further or change.
    pub fn model_mut(&mut self) -> &mut M {
        &mut self.model
    }
    /// The network, without the preprocessing.
    pub fn into_model(self) -> M {
        self.model
    }
    /// The standardizer applied to raw inputs, if there is one.
    pub fn standardizer(&self) -> Option<&Standardizer<T>> {
        self.standardizer.as_ref()
    }
    /// The class names, in class-index order, if known.
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }
    /// The name of class `class`, if the classes are named.
    pub fn class_name(&self, class: usize) -> Option<&str> {
        self.class_names.as_ref()?.get(class).map(String::as_str)
    }

    /// The model's outputs (one column per row) for raw rows, one sample
    /// each, standardized first when the pipeline has a standardizer.
    pub fn predict_rows<R: AsRef<[T]>>(&self, rows: &[R]) -> Result<DMatrix<T>, PredictError> {
        let width = rows.first().map_or(M::INPUT, |r| r.as_ref().len());
        let expected = if M::accepts_rows(width) { width } else { M::INPUT };
        if let Some((row, found)) = rows.iter().map(|r| r.as_ref().len()).enumerate().find(|&(_, n)| n != expected) {
            return Err(DataError::RowLength { row, expected, found }.into());
        }
        let mut rows: Vec<Vec<T>> = rows.iter().map(|r| r.as_ref().to_vec()).collect();
        match &self.standardizer {
            Some(s) => s.apply_rows(&mut rows)?,
            None => {
                let bad = rows.iter().enumerate().find_map(|(sample, r)| {
                    r.iter().position(|v| !v.is_finite()).map(|feature| (sample, feature, r[feature].as_f64()))
                });
                if let Some((sample, feature, value)) = bad {
                    return Err(DataError::NonFiniteInput { sample, feature, value }.into());
                }
            }
        }
        let x = DMatrix::from_iterator(expected, rows.len(), rows.into_iter().flatten());
        Ok(self.model.predict_view(x.as_view())?)
    }

    /// The predicted class of each raw row: its largest output.
    pub fn classify_rows<R: AsRef<[T]>>(&self, rows: &[R]) -> Result<Vec<usize>, PredictError> {
        Ok(predicted_classes(&self.predict_rows(rows)?))
    }

    /// The weights file with the preprocessing in its metadata.
    pub fn to_bytes(&self) -> Result<Vec<u8>, SaveError> {
        // Widened to f64, whose shortest form reads back to the same value
        // (and narrows back exactly to an f32).
        let floats = |v: &[T]| serde_json::to_string(&v.iter().map(|x| x.as_f64().to_string()).collect::<Vec<_>>());
        let mut extra = BTreeMap::new();
        if let Some(s) = &self.standardizer {
            extra.insert(MEAN, floats(s.mean()).unwrap_or_default());
            extra.insert(SCALE, floats(s.scale()).unwrap_or_default());
        }
        if let Some(names) = &self.class_names {
            extra.insert(CLASS_NAMES, serde_json::to_string(names).unwrap_or_default());
        }
        model_to_bytes(&self.model, &extra)
    }

    /// Writes [`Pipeline::to_bytes`] to `path` atomically, as
    /// [`save_safetensors`](super::save_safetensors) does.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), SaveError> {
        let path = path.as_ref();
        let bytes = self.to_bytes().map_err(|e| e.at(path))?;
        write_atomically(path, &bytes)
    }

    /// Loads the weights in `path` into `model` (strictly, as
    /// [`load_safetensors_into`](super::load_safetensors_into)) and returns
    /// it with the standardizer and class names the file holds, if any.
    pub fn load(model: M, path: impl AsRef<Path>) -> Result<Self, LoadError> {
        let path = path.as_ref();
        Self::from_bytes(model, &read_file(path)?).map_err(|e| e.at(path))
    }

    /// [`Pipeline::load`] from the bytes of a file.
    pub fn from_bytes(mut model: M, bytes: &[u8]) -> Result<Self, LoadError> {
        let metadata = read_header(bytes)?.metadata;
        let standardizer = match (metadata.get(MEAN), metadata.get(SCALE)) {
            (None, None) => None,
            (mean, scale) => {
                let mean = floats(MEAN, mean)?;
                let scale = floats(SCALE, scale)?;
                let s = Standardizer::from_parts(mean, scale).map_err(|e| metadata_error(MEAN, e.to_string()))?;
                if !M::accepts_rows(s.width()) {
                    let problem = format!("{} features, but the network takes {}", s.width(), M::INPUT);
                    return Err(metadata_error(MEAN, problem));
                }
                Some(s)
            }
        };
        let class_names = match metadata.get(CLASS_NAMES) {
            None => None,
            Some(text) => {
                let names: Vec<String> = serde_json::from_str(text)
                    .map_err(|_| metadata_error(CLASS_NAMES, "not a JSON list of strings".into()))?;
                if names.len() != M::OUTPUT {
                    let problem = format!("{} names, but the network has {} outputs", names.len(), M::OUTPUT);
                    return Err(metadata_error(CLASS_NAMES, problem));
                }
                Some(names)
            }
        };
        load_from_bytes(&mut model, bytes)?;
        Ok(Self { model, standardizer, class_names })
    }
}

fn metadata_error(key: &str, problem: String) -> LoadError {
    LoadError::new(LoadErrorKind::Metadata { key: key.to_string(), problem })
}

/// A metadata entry written by [`Pipeline::to_bytes`]: a JSON list of
/// numbers written as strings (exact, in Rust's shortest form).
fn floats<T: Float>(key: &str, text: Option<&String>) -> Result<Vec<T>, LoadError> {
    let bad = || metadata_error(key, "not a JSON list of numbers written as strings".into());
    let text = text.ok_or_else(|| metadata_error(key, "missing, while its partner is there".into()))?;
    let strings: Vec<String> = serde_json::from_str(text).map_err(|_| bad())?;
    strings.iter().map(|s| s.parse::<f64>().map(T::of).map_err(|_| bad())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::LayerModel;
    use crate::{
        init::{seeded_rng, Init},
        layers::Dense,
    };

    type Net = LayerModel<f32, Dense<f32, 2, 3>, 2, 3>;

    fn net(seed: u64) -> Net {
        LayerModel::new(Dense::new(&mut seeded_rng(seed), Init::XavierNormal, true))
    }

    fn pipeline() -> Pipeline<f32, Net> {
        // Values that need every bit of an f32.
        let s = Standardizer::from_parts(vec![0.1, -1.0 / 3.0], vec![2.0f32.sqrt(), 7e-3]).unwrap();
        Pipeline::new(net(1)).with_standardizer(s).unwrap().with_class_names(["a", "b, \"c\"", "ü"]).unwrap()
    }

    /// A weights file of `net(1)` with `extra` metadata.
    fn file_with(extra: &[(&str, &str)]) -> Vec<u8> {
        let extra = extra.iter().map(|(k, v)| (*k, v.to_string())).collect();
        model_to_bytes(&net(1), &extra).unwrap()
    }

    #[test]
    fn standardizer_and_class_names_come_back_exactly() {
        let p = pipeline();
        let back = Pipeline::from_bytes(net(2), &p.to_bytes().unwrap()).unwrap();
        assert_eq!(back.standardizer(), p.standardizer());
        assert_eq!(back.class_names(), p.class_names());
        assert_eq!(back.model().layer.weight(), p.model().layer.weight());
        let rows = [[1.0f32, 2.0], [-0.5, 0.25]];
        assert_eq!(back.predict_rows(&rows).unwrap(), p.predict_rows(&rows).unwrap());
        assert_eq!((back.class_name(2), back.class_name(3)), (Some("ü"), None));
    }

    #[test]
    fn raw_rows_are_standardized_then_predicted() {
        let p = pipeline();
        let mut rows = [[1.0f32, 2.0], [-0.5, 0.25]];
        let raw = p.predict_rows(&rows).unwrap();
        p.standardizer().unwrap().apply_rows(&mut rows).unwrap();
        let x = DMatrix::from_iterator(2, 2, rows.iter().flatten().copied());
        assert_eq!(raw, p.model().predict_view(x.as_view()).unwrap());
        assert_eq!(p.classify_rows(&rows).unwrap(), predicted_classes(&p.predict_rows(&rows).unwrap()));

        let e = p.predict_rows(&[vec![1.0f32, 2.0], vec![3.0]]).unwrap_err();
        assert!(matches!(e, PredictError::Data(DataError::RowLength { row: 1, expected: 2, found: 1 })), "{e}");
        let e = Pipeline::new(net(1)).predict_rows(&[[1.0f32, f32::NAN]]).unwrap_err();
        assert!(matches!(e, PredictError::Data(DataError::NonFiniteInput { sample: 0, feature: 1, .. })), "{e}");
        let e = p.predict_rows(&[[1.0f32, 2.0, 3.0]]).unwrap_err();
        assert!(matches!(e, PredictError::Data(DataError::RowLength { expected: 2, found: 3, .. })), "{e}");
    }

    #[test]
    fn preprocessing_that_does_not_fit_the_network_is_refused() {
        let wide = Standardizer::from_parts(vec![0.0f32; 3], vec![1.0; 3]).unwrap();
        assert_eq!(
            Pipeline::new(net(1)).with_standardizer(wide).unwrap_err(),
            DataError::Width { expected: 2, found: 3 }
        );
        let e = Pipeline::new(net(1)).with_class_names(["a", "b"]).unwrap_err();
        assert_eq!(e, DataError::ClassNames { names: 2, classes: Some(3) });
    }

    #[test]
    fn a_file_without_preprocessing_loads_as_a_bare_model() {
        let bare = Pipeline::from_bytes(net(2), &crate::io::save_to_bytes(&net(1)).unwrap()).unwrap();
        assert!(bare.standardizer().is_none() && bare.class_names().is_none());
        assert_eq!(bare.model().layer.weight(), net(1).layer.weight());
    }

    #[test]
    fn malformed_preprocessing_metadata_is_an_error_naming_the_entry() {
        /// Metadata entries, and the key and words the error has.
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: [Case; 6] = [
            (&[(MEAN, r#"["0", "1"]"#)], "scale", "missing, while its partner is there"),
            (&[(MEAN, "[0, 1]"), (SCALE, r#"["1", "1"]"#)], "mean", "not a JSON list of numbers"),
            (&[(MEAN, r#"["0", "1"]"#), (SCALE, r#"["1", "-1"]"#)], "mean", "scale -1"),
            (&[(MEAN, r#"["0"]"#), (SCALE, r#"["1"]"#)], "mean", "1 features, but the network takes 2"),
            (&[(CLASS_NAMES, r#"["a", "b"]"#)], "class_names", "2 names, but the network has 3 outputs"),
            (&[(CLASS_NAMES, "a,b,c")], "class_names", "not a JSON list of strings"),
        ];
        for (extra, key, problem) in cases {
            let e = Pipeline::from_bytes(net(2), &file_with(extra)).unwrap_err();
            let LoadErrorKind::Metadata { key: found, problem: says } = e.kind() else { panic!("{e}") };
            assert!(found.contains(key) && says.contains(problem), "{extra:?}: {e}");
        }
        let e = Pipeline::from_bytes(net(2), &file_with(&[(SCALE, r#"["1", "1"]"#)])).unwrap_err();
        assert!(e.to_string().contains("metadata entry `nn.standardizer.mean`: missing"), "{e}");
    }
}
