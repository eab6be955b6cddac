//! safetensors files of hand-built models: round trips and every way a file
//! can be wrong. Interchange with PyTorch, through the files
//! `tools/reference/safetensors_interop.py` writes, is tested on `network!`
//! networks in the root package's `tests/safetensors_interop.rs`, beside
//! those files.

use std::path::{Path, PathBuf};

use nalgebra::{DMatrix, DMatrixView};
use nn_runtime::io::{load_from_bytes, load_safetensors_into, save_safetensors, save_to_bytes, LoadErrorKind};
use nn_runtime::rnn::{LstmCell, SeqGrad, SeqLayer};
use nn_runtime::testing::{scramble, LayerModel};
use nn_runtime::{
    seeded_rng, Batch, BatchNorm, Chain, Dense, Float, Highway, Init, Layer, LayerNorm, Model, NamedBuffer, NamedParam,
    ParamMut, Prelu, ResidualProjection, ShapeError, Visit, VisitMut,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::{Dtype, SafeTensors};

// ---------------------------------------------------------------- helpers

/// A fresh folder under the system temp dir for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nn-io-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn input<T: Float>(rows: usize, cols: usize, seed: u64) -> DMatrix<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    DMatrix::from_fn(rows, cols, |_, _| T::of(rng.random_range(-2.0..2.0)))
}

fn bits<T: Float>(v: &[T]) -> Vec<u64> {
    v.iter().map(|x| x.as_f64().to_bits()).collect()
}

/// Parameters (name, value bits) and buffers.
type State<T> = (Vec<(String, Vec<u64>)>, Vec<NamedBuffer<T>>);

/// Parameters and buffers, bit for bit.
fn state<T: Float, M: Model<T>>(m: &M) -> State<T> {
    let params = m.parameters().into_iter().map(|p: NamedParam<T>| (p.name, bits(&p.value))).collect();
    (params, m.buffers())
}

/// Rewrites a safetensors file tensor by tensor: `edit` sees each (name, dtype,
/// shape, bytes) and may change it or drop it (`None`); `extra` adds tensors.
fn rewrite(
    bytes: &[u8],
    edit: impl Fn(&str, Dtype, &[usize], &[u8]) -> Option<(String, Dtype, Vec<usize>, Vec<u8>)>,
    extra: Vec<(String, Dtype, Vec<usize>, Vec<u8>)>,
) -> Vec<u8> {
    struct T(Dtype, Vec<usize>, Vec<u8>);
    impl safetensors::View for &T {
        fn dtype(&self) -> Dtype {
            self.0
        }
        fn shape(&self) -> &[usize] {
            &self.1
        }
        fn data(&self) -> std::borrow::Cow<'_, [u8]> {
            std::borrow::Cow::Borrowed(&self.2)
        }
        fn data_len(&self) -> usize {
            self.2.len()
        }
    }
    let st = SafeTensors::deserialize(bytes).unwrap();
    let mut out: Vec<(String, T)> = st
        .tensors()
        .into_iter()
        .filter_map(|(n, v)| edit(&n, v.dtype(), v.shape(), v.data()))
        .map(|(n, d, s, b)| (n, T(d, s, b)))
        .collect();
    out.extend(extra.into_iter().map(|(n, d, s, b)| (n, T(d, s, b))));
    safetensors::serialize(out.iter().map(|(n, t)| (n.as_str(), t)), None).unwrap()
}

fn keep(n: &str, d: Dtype, s: &[usize], b: &[u8]) -> Option<(String, Dtype, Vec<usize>, Vec<u8>)> {
    Some((n.to_string(), d, s.to_vec(), b.to_vec()))
}

// ------------------------------------------------- a network with every kind

/// dense (bias) -> batch_norm -> prelu -> residual(projection) { dense, layer_norm }
/// -> highway { dense (no bias) } -> dense (no bias): every parameterised layer and
/// block on this branch, with a running-statistics buffer and a counter.
type Everything<T> = LayerModel<
    T,
    Chain<
        T,
        Chain<T, Chain<T, Dense<T, 4, 6>, BatchNorm<T, 6>, 4, 6, 6>, Prelu<T, 6>, 4, 6, 6>,
        Chain<
            T,
            ResidualProjection<T, Chain<T, Dense<T, 6, 5>, LayerNorm<T, 5>, 6, 5, 5>, 6, 5>,
            Chain<T, Highway<T, Dense<T, 5, 5>, 5>, Dense<T, 5, 3>, 5, 5, 3>,
            6,
            5,
            3,
        >,
        4,
        6,
        3,
    >,
    4,
    3,
>;

fn everything<T: Float>(seed: u64) -> Everything<T> {
    let mut rng = seeded_rng(seed);
    let r = &mut rng;
    let head = Chain::new(Chain::new(Dense::new(r, Init::HeNormal, true), BatchNorm::new(0.1, 1e-5)), Prelu::new(0.25));
    let res_body = Chain::new(Dense::new(r, Init::XavierNormal, true), LayerNorm::new(1e-5));
    let res = ResidualProjection::new(r, res_body, Init::XavierNormal);
    let gated = Dense::new(r, Init::XavierNormal, false);
    let highway = Highway::new(r, gated, Init::XavierNormal);
    let tail = Chain::new(res, Chain::new(highway, Dense::new(r, Init::XavierNormal, false)));
    LayerModel::new(Chain::new(head, tail))
}

/// A trained-looking model: scrambled weights and two training forwards, so
/// the batch-norm statistics and counter are not their defaults.
fn trained<T: Float>() -> Everything<T> {
    let mut m = everything::<T>(1);
    scramble(&mut m, 7);
    for s in 0..2 {
        m.forward_view(input::<T>(4, 5, 100 + s).as_view()).unwrap();
    }
    m
}

fn round_trip<T: Float>(test: &str) {
    let dir = scratch(test);
    let path = dir.join("model.safetensors");
    let src = trained::<T>();
    save_safetensors(&src, &path).unwrap();

    let mut dst = everything::<T>(2);
    assert_ne!(state(&dst), state(&src), "the fresh network must differ before loading");
    load_safetensors_into(&mut dst, &path).unwrap();
    assert_eq!(state(&dst), state(&src));

    let x = input::<T>(4, 9, 5);
    let (a, b) = (src.predict_view(x.as_view()).unwrap(), dst.predict_view(x.as_view()).unwrap());
    assert_eq!(bits(a.as_slice()), bits(b.as_slice()), "predict differs after the round trip");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn round_trip_is_bit_exact_f32_and_f64() {
    round_trip::<f32>("rt32");
    round_trip::<f64>("rt64");
}

/// The sequence network `seq 3 -> lstm(5), last, dense(2)`.
struct LstmNet<T: Float> {
    cell: LstmCell<T, 3, 5>,
    head: Dense<T, 5, 2>,
    xs: Vec<Batch<T, 3>>,
    g: Batch<T, 2>,
    dx: DMatrix<T>,
}

fn lstm_net<T: Float>(seed: u64) -> LstmNet<T> {
    let mut rng = seeded_rng(seed);
    let cell = LstmCell::new(&mut rng).with_forget_bias(1.0);
    let head = Dense::new(&mut rng, Init::XavierNormal, true);
    LstmNet { cell, head, xs: Vec::new(), g: nn_runtime::empty(), dx: DMatrix::zeros(0, 0) }
}

/// Rows `t*N..(t+1)*N` of `x` as step `t`.
fn steps<T: Float, const N: usize>(x: &DMatrixView<'_, T>) -> Result<Vec<Batch<T, N>>, ShapeError> {
    if x.nrows() == 0 || !x.nrows().is_multiple_of(N) {
        return Err(ShapeError::Width { what: "sequence", expected: N, found: x.nrows() });
    }
    Ok((0..x.nrows() / N).map(|t| Batch::<T, N>::from_fn(x.ncols(), |i, j| x[(t * N + i, j)])).collect())
}

impl<T: Float> Model<T> for LstmNet<T> {
    const INPUT: usize = 3;
    const OUTPUT: usize = 2;
    const NAME: &'static str = "LstmNet";

    fn visit(&self, v: &mut dyn Visit<T>) {
        nn_runtime::visit_in(v, "0", |v| self.cell.visit(v));
        nn_runtime::visit_in(v, "2", |v| self.head.visit(v));
    }
    fn visit_mut(&mut self, v: &mut dyn VisitMut<T>) {
        nn_runtime::visit_mut_in(v, "0", |v| self.cell.visit_mut(v));
        nn_runtime::visit_mut_in(v, "2", |v| self.head.visit_mut(v));
    }
    fn forward_view(&mut self, x: DMatrixView<'_, T>) -> Result<DMatrixView<'_, T>, ShapeError> {
        self.xs = steps(&x)?;
        let hs = self.cell.forward_seq(&self.xs, None)?;
        let last = hs.last().ok_or(ShapeError::EmptySequence)?;
        Ok(self.head.forward(last).as_view())
    }
    fn backward_view(&mut self, grad: DMatrixView<'_, T>) -> Result<DMatrixView<'_, T>, ShapeError> {
        self.g = Batch::<T, 2>::from_fn(grad.ncols(), |i, j| grad[(i, j)]);
        let dh = self.head.backward(&self.g).clone();
        let dxs = self.cell.backward_seq(SeqGrad::Last(&dh), None)?;
        self.dx = DMatrix::from_fn(dxs.len() * 3, dh.ncols(), |i, j| dxs[i / 3][(i % 3, j)]);
        Ok(self.dx.as_view())
    }
    fn predict_view(&self, x: DMatrixView<'_, T>) -> Result<DMatrix<T>, ShapeError> {
        let hs = self.cell.predict_seq(&steps(&x)?, None)?;
        let y = self.head.predict(hs.last().ok_or(ShapeError::EmptySequence)?);
        Ok(DMatrix::from_column_slice(2, y.ncols(), y.as_slice()))
    }
}

fn seq_round_trip<T: Float>() {
    let mut src = lstm_net::<T>(1);
    scramble(&mut src, 8);
    let bytes = save_to_bytes(&src).unwrap();
    let mut dst = lstm_net::<T>(2);
    assert_ne!(state(&dst), state(&src));
    load_from_bytes(&mut dst, &bytes).unwrap();
    assert_eq!(state(&dst), state(&src));
    let x = input::<T>(3 * 7, 4, 9);
    let (a, b) = (src.predict_view(x.as_view()).unwrap(), dst.predict_view(x.as_view()).unwrap());
    assert_eq!(bits(a.as_slice()), bits(b.as_slice()));
}

#[test]
fn sequence_network_round_trip_is_bit_exact() {
    seq_round_trip::<f32>();
    seq_round_trip::<f64>();
}

#[test]
fn file_has_pytorch_names_shapes_dtypes_and_metadata() {
    let bytes = save_to_bytes(&trained::<f32>()).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut got: Vec<(String, Dtype, Vec<usize>)> =
        st.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec())).collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let f = Dtype::F32;
    let expected = [
        ("0.0.0.weight", f, vec![6, 4]),
        ("0.0.0.bias", f, vec![6]),
        ("0.0.1.weight", f, vec![6]),
        ("0.0.1.bias", f, vec![6]),
        ("0.0.1.running_mean", f, vec![6]),
        ("0.0.1.running_var", f, vec![6]),
        ("0.0.1.num_batches_tracked", Dtype::I64, vec![]),
        ("0.1.weight", f, vec![6]),
        ("1.0.0.weight", f, vec![5, 6]),
        ("1.0.0.bias", f, vec![5]),
        ("1.0.1.weight", f, vec![5]),
        ("1.0.1.bias", f, vec![5]),
        ("1.0.projection.weight", f, vec![5, 6]),
        ("1.1.0.weight", f, vec![5, 5]),
        ("1.1.0.gate.weight", f, vec![5, 5]),
        ("1.1.0.gate.bias", f, vec![5]),
        ("1.1.1.weight", f, vec![3, 5]),
    ];
    let mut expected: Vec<(String, Dtype, Vec<usize>)> =
        expected.into_iter().map(|(n, d, s)| (n.to_string(), d, s)).collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, expected);

    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let meta = meta.metadata().clone().unwrap();
    assert_eq!(meta["format"], "pt");
    assert_eq!(meta["network"], "LayerModel");
    assert_eq!(meta["nn_version"], env!("CARGO_PKG_VERSION"));

    // The counter is stored as PyTorch does: a little-endian I64 scalar.
    let m = trained::<f32>();
    let counter = match &m.buffers()[2] {
        NamedBuffer::Count { value, .. } => *value,
        other => panic!("expected the counter, found {other:?}"),
    };
    assert_eq!(counter, i64::from_le_bytes(st.tensor("0.0.1.num_batches_tracked").unwrap().data().try_into().unwrap()));
}

// ------------------------------------------------------- every error kind

/// Loads `bytes` into a fresh network and checks that it fails with the kind
/// `is` accepts, that the message names what `says` lists, and that the
/// network is unchanged.
fn rejects(bytes: &[u8], is: impl Fn(&LoadErrorKind) -> bool, says: &[&str]) {
    let mut m = everything::<f32>(3);
    let before = state(&m);
    let e = load_from_bytes(&mut m, bytes).expect_err("the load must fail");
    assert!(is(e.kind()), "unexpected error kind: {e:?}");
    let msg = e.to_string();
    for s in says {
        assert!(msg.contains(s), "message {msg:?} does not mention {s:?}");
    }
    assert_eq!(state(&m), before, "a failed load changed the network");
}

fn good() -> Vec<u8> {
    save_to_bytes(&trained::<f32>()).unwrap()
}

#[test]
fn rejects_files_shorter_than_the_length_prefix() {
    rejects(&[1, 2, 3], |k| matches!(k, LoadErrorKind::TooShort { len: 3 }), &["3 bytes"]);
}

#[test]
fn rejects_header_lengths_that_lie() {
    let mut b = good();
    b[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    rejects(&b, |k| matches!(k, LoadErrorKind::HeaderTooLarge { declared: u64::MAX, .. }), &["18446744073709551615"]);

    let mut b = good();
    let n = u64::from_le_bytes(b[..8].try_into().unwrap());
    let past = (b.len() - 8) as u64 + 1;
    b[..8].copy_from_slice(&past.to_le_bytes());
    rejects(&b, |k| matches!(k, LoadErrorKind::HeaderPastEnd { declared, .. } if *declared == past), &["truncated"]);

    // Shorter than it is: the header is cut inside its JSON.
    let mut b = good();
    b[..8].copy_from_slice(&(n - 10).to_le_bytes());
    rejects(&b, |k| matches!(k, LoadErrorKind::BadHeader(_)), &["header"]);
}

#[test]
fn rejects_truncated_files_and_trailing_bytes() {
    let b = good();
    let data = b.len() - 8 - u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    rejects(
        &b[..b.len() - 4],
        |k| matches!(k, LoadErrorKind::DataLength { declared, found } if *declared as usize == data && *found as usize == data - 4),
        &["truncated"],
    );
    let mut long = b.clone();
    long.extend_from_slice(&[0; 3]);
    rejects(&long, |k| matches!(k, LoadErrorKind::DataLength { .. }), &["stray bytes"]);
    rejects(&b[..20], |k| matches!(k, LoadErrorKind::HeaderPastEnd { .. }), &[]);
}

#[test]
fn rejects_corrupt_headers() {
    let b = good();
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;

    let mut not_json = b.clone();
    not_json[8] = b'x';
    rejects(&not_json, |k| matches!(k, LoadErrorKind::BadHeader(_)), &["not valid safetensors"]);

    let mut not_utf8 = b.clone();
    let quote = 8 + b[8..8 + n].iter().position(|c| *c == b'"').unwrap();
    not_utf8[quote + 1] = 0xff;
    rejects(&not_utf8, |k| matches!(k, LoadErrorKind::BadHeader(_)), &[]);

    // Same length, unknown dtype: the header stays well formed JSON.
    let header = std::str::from_utf8(&b[8..8 + n]).unwrap();
    let edited = header.replacen("\"F32\"", "\"X32\"", 1);
    let mut bad_dtype = b.clone();
    bad_dtype[8..8 + n].copy_from_slice(edited.as_bytes());
    rejects(&bad_dtype, |k| matches!(k, LoadErrorKind::BadHeader(_)), &[]);

    // Overlapping offsets: every tensor starting at 0.
    let re = header.replace("\"data_offsets\":[", "\"data_offsets\":[0,0],\"x\":[");
    let mut json = re.into_bytes();
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut overlap = (json.len() as u64).to_le_bytes().to_vec();
    overlap.extend_from_slice(&json);
    overlap.extend_from_slice(&b[8 + n..]);
    rejects(&overlap, |k| matches!(k, LoadErrorKind::BadHeader(_)), &[]);
}

#[test]
fn rejects_offsets_that_overflow_when_added() {
    // Offsets adding up to nearly u64::MAX. safetensors 0.8's own
    // `SafeTensors::deserialize` adds the header length to them and panics
    // (overflow, tensor.rs:420); the loader checks the lengths itself first.
    let big = u64::MAX / 8;
    let mut json = String::from("{");
    let mut start = 0u64;
    for i in 0..8 {
        let end = start + big;
        json += &format!("\"t{i}\":{{\"dtype\":\"U8\",\"shape\":[{big}],\"data_offsets\":[{start},{end}]}},");
        start = end;
    }
    json += &format!("\"t8\":{{\"dtype\":\"U8\",\"shape\":[7],\"data_offsets\":[{start},{}]}}}}", start + 7);
    let mut b = (json.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(json.as_bytes());
    rejects(&b, |k| matches!(k, LoadErrorKind::DataLength { .. }), &["truncated"]);
}

#[test]
fn rejects_missing_and_misnamed_tensors() {
    let dropped =
        rewrite(&good(), |n, d, s, b| (n != "1.0.projection.weight").then(|| keep(n, d, s, b)).flatten(), vec![]);
    rejects(
        &dropped,
        |k| matches!(k, LoadErrorKind::Missing { name, unknown, .. } if name == "1.0.projection.weight" && unknown.is_empty()),
        &["`1.0.projection.weight`", "F32 [5, 6]", "missing"],
    );

    let renamed = rewrite(&good(), |n, d, s, b| keep(if n == "0.1.weight" { "0.1.slope" } else { n }, d, s, b), vec![]);
    rejects(
        &renamed,
        |k| matches!(k, LoadErrorKind::Missing { name, unknown, .. } if name == "0.1.weight" && unknown == &["0.1.slope"]),
        &["`0.1.weight`", "`0.1.slope`"],
    );
}

#[test]
fn rejects_extra_tensors() {
    let extra = rewrite(&good(), keep, vec![("2.weight".into(), Dtype::F32, vec![2], vec![0; 8])]);
    rejects(
        &extra,
        |k| matches!(k, LoadErrorKind::Unexpected { name } if name == "2.weight"),
        &["`2.weight`", "strict"],
    );
}

#[test]
fn rejects_wrong_dtypes() {
    // A whole f64 checkpoint into an f32 network.
    let f64_file = save_to_bytes(&trained::<f64>()).unwrap();
    rejects(
        &f64_file,
        |k| matches!(k, LoadErrorKind::Dtype { name, expected: "F32", found } if name == "0.0.0.weight" && found == "F64"),
        &["`0.0.0.weight`", "F64", "F32"],
    );
    // The counter as a float.
    let counter = rewrite(
        &good(),
        |n, d, s, b| {
            if n.ends_with("num_batches_tracked") {
                Some((n.to_string(), Dtype::F32, vec![], 2.0f32.to_le_bytes().to_vec()))
            } else {
                keep(n, d, s, b)
            }
        },
        vec![],
    );
    rejects(&counter, |k| matches!(k, LoadErrorKind::Dtype { expected: "I64", .. }), &["num_batches_tracked", "I64"]);
}

#[test]
fn rejects_wrong_shapes() {
    let transposed =
        rewrite(&good(), |n, d, s, b| keep(n, d, if n == "1.1.1.weight" { &[5, 3] } else { s }, b), vec![]);
    rejects(
        &transposed,
        |k| matches!(k, LoadErrorKind::Shape { name, expected, found } if name == "1.1.1.weight" && expected == &[3, 5] && found == &[5, 3]),
        &["`1.1.1.weight`", "[5, 3]", "[3, 5]"],
    );
    let unsqueezed = rewrite(&good(), |n, d, s, b| keep(n, d, if n == "0.1.weight" { &[1, 6] } else { s }, b), vec![]);
    rejects(&unsqueezed, |k| matches!(k, LoadErrorKind::Shape { .. }), &["[1, 6]", "[6]"]);
}

#[test]
fn rejects_non_finite_values() {
    for (bad, says) in [(f32::NAN, "NaN"), (f32::INFINITY, "inf")] {
        let file = rewrite(
            &good(),
            |n, d, s, b| {
                let mut b = b.to_vec();
                if n == "1.0.1.bias" {
                    b[8..12].copy_from_slice(&bad.to_le_bytes());
                }
                keep(n, d, s, &b)
            },
            vec![],
        );
        rejects(
            &file,
            |k| matches!(k, LoadErrorKind::NonFinite { name, index: 2, .. } if name == "1.0.1.bias"),
            &["`1.0.1.bias`", says, "index 2"],
        );
    }
}

#[test]
fn a_missing_file_is_an_io_error_naming_the_path() {
    let mut m = everything::<f32>(3);
    let path = Path::new("/nonexistent/nn/weights.safetensors");
    let e = load_safetensors_into(&mut m, path).unwrap_err();
    assert!(matches!(e.kind(), LoadErrorKind::Io(_)));
    assert_eq!(e.path(), Some(path));
    let io = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>()).expect("io::Error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    assert!(e.to_string().contains("/nonexistent/nn/weights.safetensors"), "{e}");
}

#[test]
fn errors_from_a_file_name_the_file() {
    let dir = scratch("names-file");
    let path = dir.join("w.safetensors");
    std::fs::write(&path, [0u8; 4]).unwrap();
    let e = load_safetensors_into(&mut everything::<f32>(3), &path).unwrap_err();
    assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
    assert!(matches!(e.kind(), LoadErrorKind::TooShort { len: 4 }));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn saving_non_finite_weights_is_refused() {
    let mut m = trained::<f64>();
    struct Poison;
    impl VisitMut<f64> for Poison {
        fn param(&mut self, p: ParamMut<'_, f64>) {
            if p.shape == [5, 5] {
                p.value[3] = f64::NEG_INFINITY;
            }
        }
    }
    m.visit_mut(&mut Poison);
    let e = save_to_bytes(&m).unwrap_err();
    assert!(e.to_string().contains("`1.1.0.weight`") && e.to_string().contains("-inf"), "{e}");
}

/// Mutations of a valid file in the normal suite (the fuzz target in `fuzz/`
/// goes much further): bit flips, overwritten bytes, cuts, insertions and
/// edited length prefixes. None may panic; a failed load leaves the network as it was.
#[test]
fn mutated_files_never_panic_and_never_half_load() {
    let base = good();
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let mut m = everything::<f32>(3);
    let mut loaded = 0;
    for _ in 0..3000 {
        let mut b = base.clone();
        for _ in 0..rng.random_range(1..4) {
            let i = rng.random_range(0..b.len());
            match rng.random_range(0..5) {
                0 => b[i] ^= 1 << rng.random_range(0..8),
                1 => b[i] = rng.random(),
                2 => b.truncate(i),
                3 => b.insert(i, rng.random()),
                _ => {
                    let n = u64::from_le_bytes(base[..8].try_into().unwrap()) as i64 + rng.random_range(-16..16);
                    b[..8].copy_from_slice(&n.to_le_bytes());
                }
            }
            if b.is_empty() {
                break;
            }
        }
        let before = state(&m);
        match load_from_bytes(&mut m, &b) {
            Ok(()) => loaded += 1,
            Err(_) => assert_eq!(state(&m), before),
        }
    }
    // Flips inside tensor data leave valid files; they must load.
    assert!(loaded > 0);
}
