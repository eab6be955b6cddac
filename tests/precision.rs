//! `f32` checked against `f64` (issue 17): every layer and block kind, and
//! whole vector, image and sequence networks, run in both precisions from the
//! same weights and inputs, on every instruction set this CPU runs (AVX-512,
//! AVX2, NEON, portable) and with one and two threads. The forward outputs
//! (auxiliary heads' included), dL/dx and every parameter's gradient must
//! agree within a bound derived from `f32` rounding.
//!
//! # The bound
//!
//! The `f64` network starts from the `f32` network's weights, widened
//! exactly, and sees the same input and output gradient, widened exactly; the
//! `f64` computation is exact to about 1e-16 relative, so what differs is the
//! rounding of the `f32` arithmetic. One `f32` operation rounds by at most
//! `u = 2^-24` relative. A sum of `K` terms rounds `K` times; with rounding
//! errors of either sign its error grows as `sqrt(K) u` times its largest
//! partial sum. A layer's element-wise steps (bias, activation,
//! normalization, the gates of a recurrent cell) round at most 8 times more
//! per element (the vectorized `f32` sigmoid and tanh are within 2 ulp). Every
//! layer on an element's path adds its error, forward and again backward. So
//! for a network with `depth` layers on its longest path (a recurrent layer
//! counts once per time step, as backpropagation through time unrolls it) and
//! largest sum `K` (fan-in, the batch and positions a weight gradient or a
//! normalization sums over), every tensor must satisfy
//!
//! ```text
//! max |t32 - t64| <= 2 * depth * (sqrt(K) + 8) * u * max |t64|
//! ```
//!
//! and every bound used here is asserted to be no looser than 1e-4.
//!
//! A bias right before a batch norm is left out (`bias = false`, as is usual
//! there): the normalization removes any shift, so its gradient is exactly
//! zero and both precisions return rounding noise, which no bound relative to
//! the tensor's largest value can hold.

mod common;

use common::networks::{tiny_inception, Activations, Blocks, Nested, TwoHeads};
use nn::kernels::{with_isa, with_threads, Isa};
use nn::nalgebra::DMatrix;
use nn::rand::Rng;
use nn::{BufferMut, Model, NamePath, ParamMut, VisitMut};

/// `u`, the unit roundoff of `f32`.
const U: f64 = f32::EPSILON as f64 / 2.0;

/// The tolerance of the module docs for a network of `depth` layers on its
/// longest path and largest sum `k`.
fn bound(depth: usize, k: usize) -> f64 {
    let tol = 2.0 * depth as f64 * ((k as f64).sqrt() + 8.0) * U;
    assert!(tol <= 1e-4, "a bound of {tol:.2e} would be looser than 1e-4 (depth {depth}, sum {k})");
    tol
}

/// Sets every parameter and floating-point buffer of an `f64` network to
/// the `f32` network's, widened, checking the names match.
struct Widen {
    path: NamePath,
    params: std::vec::IntoIter<nn::NamedParam<f32>>,
    buffers: std::vec::IntoIter<nn::NamedBuffer<f32>>,
}

impl VisitMut<f64> for Widen {
    fn enter(&mut self, segment: &str) {
        self.path.enter(segment);
    }
    fn leave(&mut self) {
        self.path.leave();
    }
    fn param(&mut self, p: ParamMut<'_, f64>) {
        let from = self.params.next().expect("as many parameters in f32 as in f64");
        assert_eq!(from.name, self.path.full(p.name));
        assert_eq!(from.value.len(), p.value.len());
        for (to, v) in p.value.iter_mut().zip(&from.value) {
            *to = f64::from(*v);
        }
    }
    fn buffer(&mut self, b: BufferMut<'_, f64>) {
        let from = self.buffers.next().expect("as many buffers in f32 as in f64");
        match (b, from) {
            (BufferMut::Float { name, value, .. }, nn::NamedBuffer::Float { name: from_name, value: from, .. }) => {
                assert_eq!(from_name, self.path.full(name));
                for (to, v) in value.iter_mut().zip(&from) {
                    *to = f64::from(*v);
                }
            }
            (BufferMut::Count { name, value }, nn::NamedBuffer::Count { name: from_name, value: from }) => {
                assert_eq!(from_name, self.path.full(name));
                *value = from;
            }
            _ => panic!("buffer kinds differ between f32 and f64"),
        }
    }
}

/// One tensor in both precisions.
struct Pair {
    name: String,
    f32: Vec<f32>,
    f64: Vec<f64>,
}

impl Pair {
    fn new(name: impl Into<String>, f32: &[f32], f64: &[f64]) -> Self {
        assert_eq!(f32.len(), f64.len());
        Self { name: name.into(), f32: f32.to_vec(), f64: f64.to_vec() }
    }

    /// `max |t32 - t64| / max |t64|`.
    fn error(&self) -> f64 {
        let largest = self.f64.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let worst = self.f32.iter().zip(&self.f64).fold(0.0f64, |m, (a, b)| m.max((f64::from(*a) - b).abs()));
        if largest == 0.0 {
            worst
        } else {
            worst / largest
        }
    }
}

/// Uniform in [-1.7, 1.7] (variance 1), seeded.
fn uniform(rows: usize, cols: usize, seed: u64) -> DMatrix<f32> {
    let mut rng = nn::seeded_rng(seed);
    DMatrix::from_fn(rows, cols, |_, _| rng.random_range(-1.7f32..1.7))
}

/// Runs one training forward and backward of `n32` and of `n64` (given the
/// `f32` weights first) on `x` and a random output gradient, and returns
/// every output and gradient in both precisions.
fn both<N32: Model<f32>, N64: Model<f64>>(n32: &mut N32, n64: &mut N64, x: &DMatrix<f32>, seed: u64) -> Vec<Pair> {
    let mut widen =
        Widen { path: NamePath::default(), params: n32.parameters().into_iter(), buffers: n32.buffers().into_iter() };
    n64.visit_mut(&mut widen);
    assert!(widen.params.next().is_none() && widen.buffers.next().is_none(), "every tensor widened");
    n32.zero_grad();
    n64.zero_grad();
    let x64 = x.map(f64::from);
    let mut pairs = Vec::new();
    let y32 = n32.forward_view(x.as_view()).expect("input of the network's width").into_owned();
    let y64 = n64.forward_view(x64.as_view()).expect("input of the network's width").into_owned();
    pairs.push(Pair::new("output", y32.as_slice(), y64.as_slice()));
    let r = uniform(y32.nrows(), y32.ncols(), seed);
    for h in 0..n32.aux_heads() {
        let (_, a32) = n32.aux_output(h).expect("aux head");
        let (_, a64) = n64.aux_output(h).expect("aux head");
        pairs.push(Pair::new(format!("aux head {h}"), a32.clone_owned().as_slice(), a64.clone_owned().as_slice()));
        let rh = uniform(a32.nrows(), a32.ncols(), seed + 1 + h as u64);
        n32.set_aux_grad(h, rh.as_view()).expect("aux grad");
        n64.set_aux_grad(h, rh.map(f64::from).as_view()).expect("aux grad");
    }
    let dx32 = n32.backward_view(r.as_view()).expect("backward").into_owned();
    let dx64 = n64.backward_view(r.map(f64::from).as_view()).expect("backward").into_owned();
    pairs.push(Pair::new("input gradient", dx32.as_slice(), dx64.as_slice()));
    for (p32, p64) in n32.parameters().into_iter().zip(n64.parameters()) {
        assert_eq!(p32.name, p64.name);
        pairs.push(Pair::new(format!("{}.grad", p32.name), &p32.grad, &p64.grad));
    }
    pairs
}

/// [`both`] on every instruction set with one and two threads: every tensor
/// within [`bound`]`(depth, k)`. `make` builds the network from a seed.
fn check<N32: Model<f32>, N64: Model<f64>>(
    name: &str,
    make32: impl Fn() -> N32,
    make64: impl Fn() -> N64,
    batch: usize,
    depth: usize,
    k: usize,
) {
    let tol = bound(depth, k);
    let x = uniform(N32::INPUT * steps_of::<N32>(), batch, 99);
    let mut runs = 0;
    for &isa in Isa::ALL.iter().filter(|isa| isa.available()) {
        for threads in [1, 2] {
            let pairs = with_isa(isa, || with_threads(threads, || both(&mut make32(), &mut make64(), &x, 7)));
            assert!(pairs.len() >= 3, "outputs, input gradient and parameter gradients");
            let worst =
                pairs
                    .iter()
                    .map(|p| (p.error(), &p.name))
                    .fold((0.0, &pairs[0].name), |a, b| if b.0 > a.0 { b } else { a });
            eprintln!("{name} {isa:?} {threads} threads: worst {:.2e} ({}), bound {tol:.2e}", worst.0, worst.1);
            for p in &pairs {
                let e = p.error();
                assert!(e <= tol, "{name} on {isa:?} with {threads} threads: {} differs by {e:.3e} of its largest value (bound {tol:.3e})", p.name);
            }
            runs += 1;
        }
    }
    assert!(runs >= 2, "every tensor checked on at least the portable instruction set");
}

/// Sequence networks take `steps` stacked batches; others one.
fn steps_of<N: Model<f32>>() -> usize {
    if N::SEQUENCE {
        STEPS
    } else {
        1
    }
}

const STEPS: usize = 12;

tiny_inception! {
    /// Every image item, with auxiliary heads: `tests/image_network.rs`'s
    /// network without the bias before the first batch norm.
    Inception, stem_bias = false
}

nn::network! {
    /// Normalization, learned slopes and dropout.
    pub struct Norms(4 -> 2) {
        dense(6, bias = false), batch_norm, prelu, dense(5), layer_norm(eps = 1e-3), dropout(0.3), elu,
        dense(5, bias = false), batch_norm(momentum = 0.2), tanh,
        dense(2),
    }

    /// Every recurrent cell, with position-wise layers and dropout between.
    pub struct Cells(seq 3 -> 2) {
        dense(4), tanh, lstm(5, forget_bias = 1.0), layer_norm, gru(4), dropout(0.2), rnn(4), dense(4), sigmoid,
        last, dense(3), tanh, dense(2),
    }

    /// Issue 9's W2: a vector network whose products are split over threads.
    pub struct Mlp(784 -> 10) { dense(512), relu, dense(512), relu, dense(10) }

    /// Issue 9's W3: 20 sigmoid layers (the vectorized f32 sigmoid).
    pub struct DeepSigmoid(64 -> 10) { dense(128), sigmoid, repeat(19) { dense(128), sigmoid }, dense(10) }

    /// A convolutional network on 16x16 images.
    pub struct ConvNet((3, 16, 16) -> 10) {
        conv2d(16, kernel = 3, padding = 1, bias = false), batch_norm, relu, max_pool(2),
        conv2d(32, kernel = 3, padding = 1, bias = false), batch_norm, relu, avg_pool(2),
        flatten, dense(64), tanh, dense(10),
    }

    /// Issue 9's W4: an LSTM of 128 over the sequence.
    pub struct Lstm(seq 32 -> 10) { lstm(128), last, dense(10) }

    /// Issue 9's W5: a GRU of 128.
    pub struct Gru(seq 32 -> 10) { gru(128), last, dense(10) }
}

// Depth: the layers with sums on the longest path; K: the largest sum.

#[test]
fn every_activation_agrees_with_f64() {
    // 13 dense layers; fan-in 6, batch 8.
    check("activations", || Activations::<f32>::seeded(1), || Activations::<f64>::seeded(1), 8, 13, 8);
}

#[test]
fn normalization_prelu_and_dropout_agree_with_f64() {
    // 3 dense, 2 batch norms, 1 layer norm; batch 8.
    check("norms", || Norms::<f32>::seeded(2), || Norms::<f64>::seeded(2), 8, 6, 8);
}

#[test]
fn auxiliary_heads_agree_with_f64() {
    // Through the second head: 4 dense; batch 8.
    check("aux heads", || TwoHeads::<f32>::seeded(3), || TwoHeads::<f64>::seeded(3), 8, 4, 8);
}

#[test]
fn repeat_residual_and_parallel_agree_with_f64() {
    // 2 + 2 * (1 + 1 + 2) dense; batch 8.
    check("nested", || Nested::<f32>::seeded(4), || Nested::<f64>::seeded(4), 8, 10, 8);
}

#[test]
fn blocks_with_own_parameters_agree_with_f64() {
    // dense, projection, body, gate, body, concat body, gate, body, dense; batch 8.
    check("blocks", || Blocks::<f32>::seeded(5), || Blocks::<f64>::seeded(5), 8, 9, 8);
}

#[test]
fn every_image_item_agrees_with_f64() {
    // conv, norm, 2 convs, conv, norm, conv, dense; the first convolution's
    // weight gradient and norm sum over 6 samples of 6x6 positions.
    check("inception", || Inception::<f32>::seeded(7), || Inception::<f64>::seeded(7), 6, 8, 6 * 36);
}

#[test]
fn every_recurrent_cell_agrees_with_f64() {
    // dense, 3 cells of 12 steps, layer norm, 3 dense; the cells' weight
    // gradients sum over 12 steps of 5 samples.
    check("cells", || Cells::<f32>::seeded(8), || Cells::<f64>::seeded(8), 5, 4 + 3 * STEPS, 5 * STEPS);
}

#[test]
fn a_wide_vector_network_agrees_with_f64() {
    // Fan-in 784.
    check("mlp 784-512-512-10", || Mlp::<f32>::seeded(9), || Mlp::<f64>::seeded(9), 64, 3, 784);
}

#[test]
fn a_deep_sigmoid_network_agrees_with_f64() {
    check("20 sigmoid layers", || DeepSigmoid::<f32>::seeded(10), || DeepSigmoid::<f64>::seeded(10), 64, 21, 128);
}

#[test]
fn a_convolutional_network_agrees_with_f64() {
    // The first convolution's weight gradient sums over 16 samples of 16x16.
    check("convnet", || ConvNet::<f32>::seeded(11), || ConvNet::<f64>::seeded(11), 16, 6, 16 * 256);
}

#[test]
fn an_lstm_network_agrees_with_f64() {
    // 12 steps and the dense; the weight gradients sum over 12 steps of 16 samples.
    check("lstm 128", || Lstm::<f32>::seeded(12), || Lstm::<f64>::seeded(12), 16, 1 + STEPS, 16 * STEPS);
}

#[test]
fn a_gru_network_agrees_with_f64() {
    check("gru 128", || Gru::<f32>::seeded(13), || Gru::<f64>::seeded(13), 16, 1 + STEPS, 16 * STEPS);
}
