//! Interchange with PyTorch for `network!` networks, both directions, through
//! the files `tools/reference/safetensors_interop.py` writes and reads
//! (`tools/reference/out/`): an MLP, a residual network, an LSTM sequence
//! network and a convolutional network with `batch_norm` over channels.

use std::path::{Path, PathBuf};

use nn::nalgebra::DMatrix;
use nn::prelude::*;
use nn::testing::scramble;
use nn::NamedBuffer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::{Dtype, SafeTensors};

nn::network! {
    /// `nn.Sequential(Linear(4, 8), BatchNorm1d(8), ReLU(), Linear(8, 3))`.
    pub struct Mlp(4 -> 3) {
        dense(8), batch_norm, relu, dense(3),
    }
}

nn::network! {
    /// `Sequential(Linear(4, 8), ReLU(), Residual(Linear(8, 6), ReLU(), Linear(6, 6),
    /// projection = Linear(8, 6, bias=False)), Linear(6, 3))`, the script's `Residual`
    /// naming its body items 0, 1, 2 and its projection `projection`.
    pub struct ResNet(4 -> 3) {
        dense(8), relu,
        residual(projection) { dense(6), relu, dense(6) },
        dense(3),
    }
}

nn::network! {
    /// The script's `LstmNet`: an `LSTMCell(3, 5)` named 0 run over the steps,
    /// the last `h` into a `Linear(5, 2)` named 2.
    pub struct Lstm(seq 3 -> 2) {
        lstm(5), last, dense(2),
    }
}

nn::network! {
    /// `Sequential(Conv2d(2, 4, 3, padding=1), BatchNorm2d(4), ReLU(), MaxPool2d(2),
    /// Conv2d(4, 5, 3, padding=1, bias=False), BatchNorm2d(5), ReLU(), GlobalAvgPool(),
    /// Linear(5, 3))` on (2, 6, 6) images, the script's `GlobalAvgPool` being the mean
    /// over height and width.
    pub struct Cnn((2, 6, 6) -> 3) {
        conv2d(4, kernel = 3, padding = 1), batch_norm, relu, max_pool(2),
        conv2d(5, kernel = 3, padding = 1, bias = false), batch_norm, relu,
        global_avg_pool, dense(3),
    }
}

fn reference(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/reference/out").join(file)
}

fn input(rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    DMatrix::from_fn(rows, cols, |_, _| rng.random_range(-2.0..2.0))
}

/// Inputs `x` [batch, in] and eval outputs `y` [batch, out], F64, row-major:
/// as one column per sample, the same memory.
fn io_pair(file: &str) -> (DMatrix<f64>, DMatrix<f64>) {
    let bytes = std::fs::read(reference(file)).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let get = |n: &str| {
        let t = st.tensor(n).unwrap();
        let v: Vec<f64> = t.data().chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
        let [batch, width] = t.shape() else { panic!("{n} is not a matrix") };
        DMatrix::from_column_slice(*width, *batch, &v)
    };
    (get("x"), get("y"))
}

fn assert_close<T: Float>(ours: &DMatrix<T>, theirs: &DMatrix<f64>, tol: f64) {
    assert_eq!(ours.shape(), theirs.shape());
    for (a, b) in ours.iter().zip(theirs.iter()) {
        assert!((a.as_f64() - b).abs() < tol, "ours {a} vs PyTorch {b}");
    }
}

/// PyTorch -> nn: the state_dict PyTorch saved loads strictly into the
/// generated network, which then predicts what PyTorch's eval mode did.
fn loads_pytorch<T: Float, M: Model<T>>(net: Result<M, nn::io::LoadError>, file: &str) {
    let net = net.unwrap_or_else(|e| panic!("{file}: {e}"));
    let (x, y) = io_pair(&format!("{file}_io.safetensors"));
    assert_close(&net.predict_view(x.map(T::of).as_view()).unwrap(), &y, 1e-5);
}

#[test]
fn loads_pytorch_mlp_with_batch_norm_and_matches_its_outputs() {
    loads_pytorch(Mlp::<f32>::load_safetensors(reference("torch_mlp.safetensors")), "torch_mlp");
}

#[test]
fn loads_pytorch_residual_projection_net_and_matches_its_outputs() {
    loads_pytorch(ResNet::<f64>::load_safetensors(reference("torch_resnet.safetensors")), "torch_resnet");
}

#[test]
fn loads_pytorch_lstm_net_and_matches_its_outputs() {
    loads_pytorch(Lstm::<f64>::load_safetensors(reference("torch_lstm.safetensors")), "torch_lstm");
}

#[test]
fn loads_pytorch_cnn_with_batch_norm_2d_and_matches_its_outputs() {
    loads_pytorch(Cnn::<f64>::load_safetensors(reference("torch_cnn.safetensors")), "torch_cnn");
}

fn bits<T: Float>(v: &[T]) -> Vec<u64> {
    v.iter().map(|x| x.as_f64().to_bits()).collect()
}

/// Parameters (name, value bits) and buffers.
type State<T> = (Vec<(String, Vec<u64>)>, Vec<NamedBuffer<T>>);

fn state<T: Float, M: Model<T>>(m: &M) -> State<T> {
    (m.parameters().into_iter().map(|p| (p.name, bits(&p.value))).collect(), m.buffers())
}

/// nn -> PyTorch: `tools/reference/safetensors_interop.py` loads these
/// committed files with `load_state_dict(strict=True)` and checks PyTorch's
/// outputs against ours. This test pins the committed files to what this
/// code writes; with `NN_WRITE_REFERENCE=1` it rewrites them. Samples have
/// `steps` steps of `M::INPUT` features (1 for a network without sequences).
fn committed_file_is_what_we_write<T: Float, M: Model<T>>(make: fn(u64) -> M, name: &str, steps: usize) {
    let (file, io) = (format!("nn_{name}.safetensors"), format!("nn_{name}_io.safetensors"));
    let rows = steps * M::INPUT;
    let mut m = make(5);
    scramble(&mut m, 11);
    for s in 0..3 {
        m.forward_view(input(rows, 6, 200 + s).map(T::of).as_view()).unwrap();
    }
    let x = input(rows, 5, 300);
    let y = m.predict_view(x.map(T::of).as_view()).unwrap().map(|v| v.as_f64());
    if std::env::var_os("NN_WRITE_REFERENCE").is_some() {
        nn::io::save_safetensors(&m, reference(&file)).unwrap();
        let pair = [("x", &x), ("y", &y)].map(|(n, v)| {
            let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
            (n, (vec![v.ncols(), v.nrows()], bytes))
        });
        let views: Vec<_> = pair
            .iter()
            .map(|(n, (s, b))| (*n, safetensors::tensor::TensorView::new(Dtype::F64, s.clone(), b).unwrap()))
            .collect();
        safetensors::serialize_to_file(views, None, &reference(&io)).unwrap();
    }
    let mut fresh = make(6);
    nn::io::load_safetensors_into(&mut fresh, reference(&file)).unwrap();
    assert_eq!(state(&fresh), state(&m), "{file} is not what this code writes");
    let (cx, cy) = io_pair(&io);
    assert_eq!(cx, x);
    assert_close(&y.map(T::of), &cy, 1e-6);
}

#[test]
fn committed_mlp_file_for_pytorch_is_what_we_write() {
    committed_file_is_what_we_write(Mlp::<f32>::seeded, "mlp", 1);
}

#[test]
fn committed_resnet_file_for_pytorch_is_what_we_write() {
    committed_file_is_what_we_write(ResNet::<f64>::seeded, "resnet", 1);
}

#[test]
fn committed_lstm_file_for_pytorch_is_what_we_write() {
    committed_file_is_what_we_write(Lstm::<f64>::seeded, "lstm", 4);
}

#[test]
fn committed_cnn_file_for_pytorch_is_what_we_write() {
    committed_file_is_what_we_write(Cnn::<f64>::seeded, "cnn", 1);
}
