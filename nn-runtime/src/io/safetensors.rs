//! Encoding a model's tensors as safetensors bytes, and decoding them back
//! with every check done before anything is written into the model.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use ::safetensors::tensor::{Metadata, TensorInfo};
use ::safetensors::{Dtype, View};

use super::error::{LoadError, LoadErrorKind, SaveError, SaveErrorKind};
use crate::snapshot::{rng_from_bytes, rng_to_bytes, Data, Entry, RNG_BYTES};
use crate::{kernels::Float, model::Model, snapshot::Snapshot};

/// The safetensors crate refuses headers above this size; checked first so a
/// lying length is reported as such.
const MAX_HEADER: u64 = 100_000_000;

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

/// The file's dtype for an entry: the float type's, I64 for a counter, U8
/// for a generator's state.
fn dtype_of<T: Float>(data: &Data<T>) -> Dtype {
    match data {
        Data::Count(_) => Dtype::I64,
        Data::Rng(_) => Dtype::U8,
        _ if T::BYTES == 4 => Dtype::F32,
        _ => Dtype::F64,
    }
}

/// An entry as the encoder takes it, refusing non-finite values.
fn encode<T: Float>(e: &Entry<T>) -> Result<Tensor, SaveError> {
    let bytes = match &e.data {
        Data::Count(c) => c.to_le_bytes().to_vec(),
        Data::Rng(rng) => rng_to_bytes(rng).to_vec(),
        Data::Param { values, .. } | Data::Buffer(values) => {
            if let Some(index) = values.iter().position(|v| !v.is_finite()) {
                let (name, value) = (e.name.clone(), values[index].as_f64());
                return Err(SaveError::new(SaveErrorKind::NonFinite { name, index, value }));
            }
            let mut bytes = Vec::with_capacity(values.len() * T::BYTES);
            for v in values {
                v.to_le_bytes_vec(&mut bytes);
            }
            bytes
        }
    };
    Ok(Tensor { dtype: dtype_of(&e.data), shape: e.shape.clone(), bytes })
}

/// The safetensors bytes of `model`: what [`super::save_safetensors`] writes.
pub fn save_to_bytes<T: Float, M: Model<T>>(model: &M) -> Result<Vec<u8>, SaveError> {
    model_to_bytes(model, &BTreeMap::new())
}

/// [`save_to_bytes`] with `extra` entries in the metadata.
pub(crate) fn model_to_bytes<T: Float, M: Model<T>>(
    model: &M,
    extra: &BTreeMap<&str, String>,
) -> Result<Vec<u8>, SaveError> {
    let mut metadata =
        BTreeMap::from([("format", "pt"), ("network", M::NAME), ("nn_version", env!("CARGO_PKG_VERSION"))]);
    metadata.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
    snapshot_to_bytes(&Snapshot::of(model), &metadata)
}

/// A snapshot's tensors as safetensors bytes, under their names, with
/// `metadata` in the header (sorted, so the same snapshot gives the same bytes).
pub(crate) fn snapshot_to_bytes<T: Float>(
    snapshot: &Snapshot<T>,
    metadata: &BTreeMap<&str, &str>,
) -> Result<Vec<u8>, SaveError> {
    let tensors =
        snapshot.entries().iter().map(|e| Ok((e.name.as_str(), encode(e)?))).collect::<Result<Vec<_>, _>>()?;
    let unordered = metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let views = tensors.iter().map(|(name, t)| (*name, t));
    let mut bytes = ::safetensors::serialize(views, Some(unordered))
        .map_err(|e| SaveError::new(SaveErrorKind::Encode(Box::new(e))))?;
    sort_metadata(&mut bytes, metadata);
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
    let metadata: Metadata = serde_json::from_slice(header).map_err(|e| err(LoadErrorKind::BadHeader(Box::new(e))))?;
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
        err(LoadErrorKind::BadHeader(format!("tensor `{name}` lies outside the data ({start}..{end})").into()))
    })
}

fn dtype_name(d: Dtype) -> &'static str {
    match d {
        Dtype::F32 => "F32",
        Dtype::F64 => "F64",
        Dtype::U8 => "U8",
        _ => "I64",
    }
}

/// What a file's header declares: its `__metadata__` and, in file order, each
/// tensor's name, dtype and shape. Parsed and checked as for loading.
pub(crate) struct Header {
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) tensors: Vec<(String, Dtype, Vec<usize>)>,
}

/// Reads the header of safetensors `bytes`, for a reader that chooses what
/// to expect from it before [`bytes_into_snapshot`] checks the tensors.
pub(crate) fn read_header(bytes: &[u8]) -> Result<Header, LoadError> {
    let (parsed, _) = parse(bytes)?;
    let metadata = parsed.metadata().iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
    let tensors = parsed
        .offset_keys()
        .into_iter()
        .filter_map(|name| parsed.info(&name).map(|i| (i.dtype, i.shape.clone())).map(|(d, s)| (name, d, s)))
        .collect();
    Ok(Header { metadata, tensors })
}

/// Loads `model` from safetensors bytes: the parsing and every check of
/// [`super::load_safetensors_into`], without the file. On error `model` is unchanged.
pub fn load_from_bytes<T: Float, M: Model<T>>(model: &mut M, bytes: &[u8]) -> Result<(), LoadError> {
    // The model's own tensors, names and shapes: the file's values are checked
    // into it, and it is written into the model only once all of them passed.
    let mut staged = Snapshot::of(model);
    bytes_into_snapshot(bytes, &mut staged)?;
    staged.restore(model);
    Ok(())
}

/// Overwrites every tensor of `snapshot` with the one of the same name in
/// the safetensors `bytes`, strictly: the file must hold exactly the
/// snapshot's tensors, with its dtypes and shapes, all finite. On error the
/// snapshot may be partly overwritten.
pub(crate) fn bytes_into_snapshot<T: Float>(bytes: &[u8], snapshot: &mut Snapshot<T>) -> Result<(), LoadError> {
    let (metadata, data) = parse(bytes)?;
    let known: HashSet<&str> = snapshot.entries().iter().map(|e| e.name.as_str()).collect();
    // In file order, so "the first unknown tensor" is well defined.
    let unknown: Vec<String> = metadata.offset_keys().into_iter().filter(|n| !known.contains(n.as_str())).collect();

    for entry in snapshot.entries_mut() {
        let Entry { name, shape, data: held } = entry;
        let dtype = dtype_of(held);
        let Some(info) = metadata.info(name) else {
            return Err(err(LoadErrorKind::Missing {
                name: name.clone(),
                dtype: dtype_name(dtype),
                shape: shape.clone(),
                unknown,
            }));
        };
        let raw = check(name, info, data, dtype, shape)?;
        match held {
            Data::Param { values, .. } | Data::Buffer(values) => {
                for (v, b) in values.iter_mut().zip(raw.chunks_exact(T::BYTES)) {
                    *v = T::from_le_slice(b);
                }
                if let Some(index) = values.iter().position(|v| !v.is_finite()) {
                    let value = values[index].as_f64();
                    return Err(err(LoadErrorKind::NonFinite { name: name.clone(), index, value }));
                }
            }
            Data::Count(c) => {
                // An I64 scalar is 8 bytes: the header's validation saw to that.
                let mut b = [0u8; 8];
                b.iter_mut().zip(raw).for_each(|(d, s)| *d = *s);
                *c = i64::from_le_bytes(b);
            }
            Data::Rng(rng) => {
                // `check` matched the shape, [RNG_BYTES] of U8.
                let mut b = [0u8; RNG_BYTES];
                b.iter_mut().zip(raw).for_each(|(d, s)| *d = *s);
                **rng = rng_from_bytes(&b);
            }
        }
    }
    if let Some(name) = unknown.into_iter().next() {
        return Err(err(LoadErrorKind::Unexpected { name }));
    }
    Ok(())
}
