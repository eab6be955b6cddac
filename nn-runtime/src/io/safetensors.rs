//! Encoding a model's tensors as safetensors bytes, and decoding them back
//! with every check done before anything is written into the model.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use ::safetensors::tensor::{Metadata, TensorInfo};
use ::safetensors::{Dtype, View};

use super::error::{LoadError, LoadErrorKind, SaveError, SaveErrorKind};
use crate::layer::{BufferMut, BufferRef, NamePath, ParamMut, ParamRef};
use crate::{Float, Model, Visit, VisitMut};

/// The safetensors crate refuses headers above this size; checked first so a
/// lying length is reported as such.
const MAX_HEADER: u64 = 100_000_000;

fn float_dtype<T: Float>() -> Dtype {
    if T::BYTES == 4 {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

/// One tensor ready for the encoder.
struct Tensor {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Tensor {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Collects every tensor of a model under its full name, refusing non-finite values.
struct Encode {
    path: NamePath,
    tensors: Vec<(String, Tensor)>,
    error: Option<SaveError>,
}

impl Encode {
    fn float<T: Float>(&mut self, leaf: &str, shape: &[usize], value: &[T]) {
        let name = self.path.full(leaf);
        if self.error.is_none() {
            if let Some(index) = value.iter().position(|v| !v.is_finite()) {
                let value = value[index].as_f64();
                self.error = Some(SaveError::new(SaveErrorKind::NonFinite { name: name.clone(), index, value }));
            }
        }
        let mut bytes = Vec::with_capacity(value.len() * T::BYTES);
        for v in value {
            v.to_le_bytes_vec(&mut bytes);
        }
        self.tensors.push((name, Tensor { dtype: float_dtype::<T>(), shape: shape.to_vec(), bytes }));
    }
}

impl<T: Float> Visit<T> for Encode {
    fn enter(&mut self, segment: &str) {
        self.path.enter(segment);
    }
    fn leave(&mut self) {
        self.path.leave();
    }
    fn param(&mut self, p: ParamRef<'_, T>) {
        self.float(p.name, p.shape, p.value);
    }
    fn buffer(&mut self, b: BufferRef<'_, T>) {
        match b {
            BufferRef::Float { name, shape, value } => self.float(name, shape, value),
            BufferRef::Count { name, value } => {
                let tensor = Tensor { dtype: Dtype::I64, shape: Vec::new(), bytes: value.to_le_bytes().to_vec() };
                self.tensors.push((self.path.full(name), tensor));
            }
        }
    }
}

/// The safetensors bytes of `model`: what [`super::save_safetensors`] writes.
pub fn save_to_bytes<T: Float, M: Model<T>>(model: &M) -> Result<Vec<u8>, SaveError> {
    let mut enc = Encode { path: NamePath::default(), tensors: Vec::new(), error: None };
    model.visit(&mut enc);
    if let Some(e) = enc.error {
        return Err(e);
    }
    let metadata = BTreeMap::from([("format", "pt"), ("network", M::NAME), ("nn_version", env!("CARGO_PKG_VERSION"))]);
    let unordered = metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let views = enc.tensors.iter().map(|(name, t)| (name.as_str(), t));
    let mut bytes = ::safetensors::serialize(views, Some(unordered))
        .map_err(|e| SaveError::new(SaveErrorKind::Encode { reason: e.to_string() }))?;
    sort_metadata(&mut bytes, &metadata);
    Ok(bytes)
}

/// `safetensors::serialize` writes the metadata in `HashMap` order, which
/// changes from one map to the next, so the same model would give different
/// bytes on every save (and every rerun of a reference script). The header
/// starts with `{"__metadata__":{...}`; the same entries sorted take the same
/// number of bytes, so they are written over it in place.
fn sort_metadata(bytes: &mut [u8], metadata: &BTreeMap<&str, &str>) {
    const PREFIX: &[u8] = b"{\"__metadata__\":";
    let Ok(sorted) = serde_json::to_vec(metadata) else { return };
    let start = 8 + PREFIX.len();
    let Some(object) = bytes.get(start..start + sorted.len()) else { return };
    // The entries are the same whatever their order; the check only guards
    // against a future encoder laying the header out differently.
    let same_entries = serde_json::from_slice::<BTreeMap<&str, &str>>(object).is_ok_and(|m| &m == metadata);
    if bytes[8..start] == *PREFIX && same_entries {
        bytes[start..start + sorted.len()].copy_from_slice(&sorted);
    }
}

/// What the network holds under one name.
enum Slot {
    Float { name: String, shape: Vec<usize> },
    Count { name: String },
}

/// The network's tensors in visit order.
struct Expect {
    path: NamePath,
    slots: Vec<Slot>,
}

impl<T> Visit<T> for Expect {
    fn enter(&mut self, segment: &str) {
        self.path.enter(segment);
    }
    fn leave(&mut self) {
        self.path.leave();
    }
    fn param(&mut self, p: ParamRef<'_, T>) {
        self.slots.push(Slot::Float { name: self.path.full(p.name), shape: p.shape.to_vec() });
    }
    fn buffer(&mut self, b: BufferRef<'_, T>) {
        self.slots.push(match b {
            BufferRef::Float { name, shape, .. } => Slot::Float { name: self.path.full(name), shape: shape.to_vec() },
            BufferRef::Count { name, .. } => Slot::Count { name: self.path.full(name) },
        });
    }
}

/// A checked value, waiting to be written into the model.
enum Staged<T> {
    Float(Vec<T>),
    Count(i64),
}

/// Writes staged values into the model, in visit order.
struct Apply<T> {
    staged: std::vec::IntoIter<Staged<T>>,
}

impl<T: Float> VisitMut<T> for Apply<T> {
    fn param(&mut self, p: ParamMut<'_, T>) {
        if let Some(Staged::Float(v)) = self.staged.next() {
            p.value.copy_from_slice(&v);
        }
    }
    fn buffer(&mut self, b: BufferMut<'_, T>) {
        match (b, self.staged.next()) {
            (BufferMut::Float { value, .. }, Some(Staged::Float(v))) => value.copy_from_slice(&v),
            (BufferMut::Count { value, .. }, Some(Staged::Count(c))) => *value = c,
            _ => {}
        }
    }
}

fn err(kind: LoadErrorKind) -> LoadError {
    LoadError::new(kind)
}

/// Parses the header and returns it with the data section, checking with
/// overflow-safe arithmetic that the lengths tile the file exactly.
fn parse(bytes: &[u8]) -> Result<(Metadata, &[u8]), LoadError> {
    let Some((len_bytes, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(err(LoadErrorKind::TooShort { len: bytes.len() }));
    };
    let declared = u64::from_le_bytes(*len_bytes);
    if declared > MAX_HEADER {
        return Err(err(LoadErrorKind::HeaderTooLarge { declared, limit: MAX_HEADER }));
    }
    // `declared` is at most MAX_HEADER here, so it fits a usize.
    let header_len = declared as usize;
    if header_len > rest.len() {
        return Err(err(LoadErrorKind::HeaderPastEnd { declared, available: rest.len() as u64 }));
    }
    let (header, data) = rest.split_at(header_len);
    // Parsing into the crate's `Metadata` runs its validation: known dtypes,
    // offsets that start at 0 and follow each other, sizes that match the
    // shapes, all without overflow.
    let metadata: Metadata =
        serde_json::from_slice(header).map_err(|e| err(LoadErrorKind::BadHeader { reason: e.to_string() }))?;
    let declared_data = metadata.data_len();
    if declared_data != data.len() {
        return Err(err(LoadErrorKind::DataLength { declared: declared_data as u64, found: data.len() as u64 }));
    }
    Ok((metadata, data))
}

/// Checks one tensor of the file against what the network expects and decodes it.
fn check<'d>(
    name: &str,
    info: &TensorInfo,
    data: &'d [u8],
    dtype: Dtype,
    shape: &[usize],
) -> Result<&'d [u8], LoadError> {
    if info.dtype != dtype {
        return Err(err(LoadErrorKind::Dtype {
            name: name.to_string(),
            expected: dtype_name(dtype),
            found: format!("{:?}", info.dtype),
        }));
    }
    if info.shape != shape {
        return Err(err(LoadErrorKind::Shape {
            name: name.to_string(),
            expected: shape.to_vec(),
            found: info.shape.clone(),
        }));
    }
    let (start, end) = info.data_offsets;
    // `parse` made the offsets tile `data`, so this cannot miss; a miss is still
    // an error, not a panic.
    data.get(start..end).ok_or_else(|| {
        err(LoadErrorKind::BadHeader { reason: format!("tensor `{name}` lies outside the data ({start}..{end})") })
    })
}

fn dtype_name(d: Dtype) -> &'static str {
    match d {
        Dtype::F32 => "F32",
        Dtype::F64 => "F64",
        _ => "I64",
    }
}

/// Loads `model` from safetensors bytes: the parsing and every check of
/// [`super::load_safetensors_into`], without the file. On error `model` is unchanged.
pub fn load_from_bytes<T: Float, M: Model<T>>(model: &mut M, bytes: &[u8]) -> Result<(), LoadError> {
    let (metadata, data) = parse(bytes)?;
    let mut expect = Expect { path: NamePath::default(), slots: Vec::new() };
    model.visit(&mut expect);

    let known: HashSet<&str> = expect
        .slots
        .iter()
        .map(|s| match s {
            Slot::Float { name, .. } | Slot::Count { name } => name.as_str(),
        })
        .collect();
    // In file order, so "the first unknown tensor" is well defined.
    let unknown: Vec<String> = metadata.offset_keys().into_iter().filter(|n| !known.contains(n.as_str())).collect();

    let mut staged = Vec::with_capacity(expect.slots.len());
    for slot in &expect.slots {
        let (name, dtype, shape): (&str, Dtype, &[usize]) = match slot {
            Slot::Float { name, shape } => (name, float_dtype::<T>(), shape),
            Slot::Count { name } => (name, Dtype::I64, &[]),
        };
        let Some(info) = metadata.info(name) else {
            return Err(err(LoadErrorKind::Missing {
                name: name.to_string(),
                dtype: dtype_name(dtype),
                shape: shape.to_vec(),
                unknown,
            }));
        };
        let raw = check(name, info, data, dtype, shape)?;
        staged.push(match slot {
            Slot::Float { .. } => {
                let values: Vec<T> = raw.chunks_exact(T::BYTES).map(T::from_le_slice).collect();
                if let Some(index) = values.iter().position(|v| !v.is_finite()) {
                    let value = values[index].as_f64();
                    return Err(err(LoadErrorKind::NonFinite { name: name.to_string(), index, value }));
                }
                Staged::Float(values)
            }
            Slot::Count { .. } => {
                // An I64 scalar is 8 bytes: the header's validation saw to that.
                let mut b = [0u8; 8];
                b.iter_mut().zip(raw).for_each(|(d, s)| *d = *s);
                Staged::Count(i64::from_le_bytes(b))
            }
        });
    }
    if let Some(name) = unknown.into_iter().next() {
        return Err(err(LoadErrorKind::Unexpected { name }));
    }

    model.visit_mut(&mut Apply { staged: staged.into_iter() });
    Ok(())
}
