//! Gradient checking by central differences, in `f64`, for anything that is a
//! [`Model`]: a whole generated network, or a single layer or block wrapped in
//! [`LayerModel`].
//!
//! The scalar checked is `L = <r, y> + sum_h <r_h, aux_h>` with fixed random
//! `r`, so dL/dy = r exercises every output. Stochastic layers are frozen
//! (dropout keeps one mask) for the duration of the check.
//!
//! It is public for users too: whoever writes a layer, a block or a
//! [`Model`] by hand checks its backward pass here, as this crate checks its
//! own (relative error below 1e-6 in `f64`, for the input and every
//! parameter). The other helpers (copies, scrambling, compiling exported
//! source) serve the workspace's tests.

use nalgebra::{DMatrix, DMatrixView};
use rand_distr::{Distribution, StandardNormal};

use crate::layer::{copy_batch, empty, view_into_batch, BufferMut, ParamMut, ParamRef};
use crate::{
    batch::Batch,
    error::ShapeError,
    init::{seeded_rng, SeededRng},
    kernels::Float,
    layer::{Layer, Visit, VisitMut},
    model::Model,
};

/// A single layer or block presented as a [`Model`], so the harness (and
/// anything else written against `Model`) can drive it.
#[derive(Debug)]
pub struct LayerModel<T: Float, L, const I: usize, const O: usize> {
    /// The layer or block, to read or change between passes.
    pub layer: L,
    x: Batch<T, I>,
    g: Batch<T, O>,
    forward_cols: Option<usize>,
}

impl<T: Float, L: Layer<T, I, O>, const I: usize, const O: usize> LayerModel<T, L, I, O> {
    /// `layer` as a model of `I` inputs and `O` outputs.
    pub fn new(layer: L) -> Self {
        Self { layer, x: empty(), g: empty(), forward_cols: None }
    }
}

fn check_rows<T>(what: &'static str, m: &DMatrixView<'_, T>, expected: usize) -> Result<(), ShapeError> {
    if m.nrows() == expected {
        Ok(())
    } else {
        Err(ShapeError::Width { what, expected, found: m.nrows() })
    }
}

impl<T: Float, L: Layer<T, I, O>, const I: usize, const O: usize> Model<T> for LayerModel<T, L, I, O> {
    const INPUT: usize = I;
    const OUTPUT: usize = O;
    const NAME: &'static str = "LayerModel";

    fn visit(&self, v: &mut dyn Visit<T>) {
        self.layer.visit(v);
    }
    fn visit_mut(&mut self, v: &mut dyn VisitMut<T>) {
        self.layer.visit_mut(v);
    }
    fn forward_view(&mut self, x: DMatrixView<'_, T>) -> Result<DMatrixView<'_, T>, ShapeError> {
        check_rows("input", &x, I)?;
        view_into_batch(&x, &mut self.x);
        self.forward_cols = Some(x.ncols());
        let y = self.layer.forward(&self.x);
        Ok(y.as_view())
    }
    fn backward_view(&mut self, grad: DMatrixView<'_, T>) -> Result<DMatrixView<'_, T>, ShapeError> {
        check_rows("gradient", &grad, O)?;
        match self.forward_cols {
            None => return Err(ShapeError::NoForward),
            Some(n) if n != grad.ncols() => return Err(ShapeError::BatchSize { forward: n, backward: grad.ncols() }),
            _ => {}
        }
        view_into_batch(&grad, &mut self.g);
        Ok(self.layer.backward(&self.g).as_view())
    }
    fn predict_view(&self, x: DMatrixView<'_, T>) -> Result<DMatrix<T>, ShapeError> {
        check_rows("input", &x, I)?;
        let mut b = empty::<T, I>();
        view_into_batch(&x, &mut b);
        let y = self.layer.predict(&b);
        Ok(DMatrix::from_column_slice(O, y.ncols(), y.as_slice()))
    }
    fn freeze_randomness(&mut self, frozen: bool) {
        self.layer.freeze_randomness(frozen);
    }
}

/// The outcome of a gradient check: the worst relative error and where it was.
#[derive(Clone, Debug)]
pub struct GradReport {
    /// Largest `|analytic - numeric| / max(|analytic|, |numeric|, 1e-3)`.
    pub worst: f64,
    /// Which entry: `"input[3, 1]"` or `"2.weight[5]"`.
    pub worst_at: String,
    /// The analytic and numeric values there.
    pub analytic: f64,
    /// The central-difference estimate there.
    pub numeric: f64,
    /// How many scalars were checked.
    pub checked: usize,
    /// Names of the parameter tensors that were checked.
    pub tensors: Vec<String>,
}

impl GradReport {
    /// Panics with the details unless the worst relative error is below `tol`.
    #[track_caller]
    pub fn assert_below(&self, tol: f64) {
        assert!(self.checked > 0, "gradient check checked nothing");
        assert!(
            self.worst < tol,
            "gradient check failed: relative error {:.3e} at {} (analytic {:.12e}, numeric {:.12e}); {} scalars checked",
            self.worst,
            self.worst_at,
            self.analytic,
            self.numeric,
            self.checked
        );
    }
}

/// Step of the central differences. With f64 and O(1) values, truncation
/// (~h^2) and rounding (~1e-16/h) errors both stay near 1e-10.
pub const STEP: f64 = 1e-5;

/// Checks a model on a random normal input of `batch` samples (scaled by 1.0).
pub fn grad_check<M: Model<f64>>(model: &mut M, batch: usize, seed: u64) -> GradReport {
    let mut rng = seeded_rng(seed ^ 0x5eed);
    let x = DMatrix::<f64>::from_fn(M::INPUT, batch, |_, _| StandardNormal.sample(&mut rng));
    grad_check_at(model, &x, seed)
}

/// Checks a model at the given input: dL/dx (unless the input is token ids)
/// and dL/d(every parameter).
pub fn grad_check_at<M: Model<f64>>(model: &mut M, x: &DMatrix<f64>, seed: u64) -> GradReport {
    grad_check_with(model, x, None, seed)
}

/// [`grad_check_at`] for a batch of sequences of different lengths
/// ([`Model::forward_seq_view`]): `x` padded, `lengths[j]` sample `j`'s steps.
pub fn grad_check_lengths<M: Model<f64>>(model: &mut M, x: &DMatrix<f64>, lengths: &[usize], seed: u64) -> GradReport {
    grad_check_with(model, x, Some(lengths), seed)
}

fn forward<'m, M: Model<f64>>(model: &'m mut M, x: &DMatrix<f64>, lengths: Option<&[usize]>) -> DMatrixView<'m, f64> {
    match lengths {
        Some(lengths) => model.forward_seq_view(x.as_view(), lengths),
        None => model.forward_view(x.as_view()),
    }
    .expect("gradient check input fits the model")
}

fn grad_check_with<M: Model<f64>>(model: &mut M, x: &DMatrix<f64>, lengths: Option<&[usize]>, seed: u64) -> GradReport {
    let mut rng = seeded_rng(seed);
    model.freeze_randomness(false);
    let out = forward(model, x, lengths);
    let r = DMatrix::<f64>::from_fn(out.nrows(), out.ncols(), |_, _| StandardNormal.sample(&mut rng));
    let heads = model.aux_heads();
    let aux_r: Vec<DMatrix<f64>> = (0..heads)
        .map(|h| {
            let (_, a) = model.aux_output(h).expect("aux head exists");
            DMatrix::<f64>::from_fn(a.nrows(), a.ncols(), |_, _| StandardNormal.sample(&mut rng))
        })
        .collect();
    model.freeze_randomness(true);

    // Analytic gradients.
    model.zero_grad();
    forward(model, x, lengths);
    for (h, rh) in aux_r.iter().enumerate() {
        model.set_aux_grad(h, rh.as_view()).expect("aux grad");
    }
    let dx = model.backward_view(r.as_view()).expect("backward").into_owned();
    let analytic = model.parameters();

    let loss = |m: &mut M, x: &DMatrix<f64>| -> f64 {
        let y = forward(m, x, lengths);
        let mut l = y.dot(&r);
        for (h, rh) in aux_r.iter().enumerate() {
            let (_, a) = m.aux_output(h).expect("aux head exists");
            l += a.dot(rh);
        }
        l
    };

    let mut report = GradReport {
        worst: 0.0,
        worst_at: String::new(),
        analytic: 0.0,
        numeric: 0.0,
        checked: 0,
        tensors: analytic.iter().map(|p| p.name.clone()).collect(),
    };
    let mut record = |at: &dyn Fn() -> String, a: f64, n: f64| {
        let err = (a - n).abs() / a.abs().max(n.abs()).max(1e-3);
        report.checked += 1;
        if err > report.worst || err.is_nan() {
            report.worst = if err.is_nan() { f64::INFINITY } else { err };
            report.worst_at = at();
            report.analytic = a;
            report.numeric = n;
        }
    };

    let mut xp = x.clone();
    // Token ids are not differentiable (nor are they ids once nudged).
    let inputs = if M::TOKENS { 0 } else { x.nrows() };
    for i in 0..inputs {
        for j in 0..x.ncols() {
            let v = x[(i, j)];
            xp[(i, j)] = v + STEP;
            let lp = loss(model, &xp);
            xp[(i, j)] = v - STEP;
            let lm = loss(model, &xp);
            xp[(i, j)] = v;
            record(&|| format!("input[{i}, {j}]"), dx[(i, j)], (lp - lm) / (2.0 * STEP));
        }
    }

    for (t, p) in analytic.iter().enumerate() {
        for e in 0..p.value.len() {
            nudge(model, t, e, STEP);
            let lp = loss(model, x);
            nudge(model, t, e, -2.0 * STEP);
            let lm = loss(model, x);
            nudge(model, t, e, STEP);
            record(&|| format!("{}[{e}]", p.name), p.grad[e], (lp - lm) / (2.0 * STEP));
        }
    }
    model.freeze_randomness(false);
    report
}

/// Adds `delta` to element `e` of parameter tensor number `t`.
fn nudge<M: Model<f64>>(model: &mut M, t: usize, e: usize, delta: f64) {
    struct Nudge {
        t: usize,
        e: usize,
        delta: f64,
        seen: usize,
    }
    impl VisitMut<f64> for Nudge {
        fn param(&mut self, p: ParamMut<'_, f64>) {
            if self.seen == self.t {
                p.value[self.e] += self.delta;
            }
            self.seen += 1;
        }
    }
    model.visit_mut(&mut Nudge { t, e, delta, seen: 0 });
}

/// Number of parameter tensors a layer shows (handy in tests of blocks).
pub fn tensor_count<T: Float, L: Layer<T, I, O>, const I: usize, const O: usize>(layer: &L) -> usize {
    struct Count(usize);
    impl<T> Visit<T> for Count {
        fn param(&mut self, _p: ParamRef<'_, T>) {
            self.0 += 1;
        }
    }
    let mut c = Count(0);
    layer.visit(&mut c);
    c.0
}

/// Convenience for tests: copies `x` into a fresh batch.
pub fn batch_from<T: Float, const N: usize>(x: &Batch<T, N>) -> Batch<T, N> {
    let mut b = empty();
    copy_batch(&mut b, x);
    b
}

/// Gives every parameter a random value in [-1, 1), every float buffer one in
/// [0.5, 2) (valid running variances) and every counter one in [1, 1000):
/// after it, a test that saves and loads, or copies, a model sees anything
/// dropped or swapped, including tensors that start equal in every network
/// (norm weights, PReLU slopes, running statistics).
pub fn scramble<T: Float, M: Model<T>>(model: &mut M, seed: u64) {
    use rand::Rng;
    struct S(SeededRng);
    impl<T: Float> VisitMut<T> for S {
        fn param(&mut self, p: ParamMut<'_, T>) {
            p.value.iter_mut().for_each(|v| *v = T::of(self.0.random_range(-1.0..1.0)));
        }
        fn buffer(&mut self, b: BufferMut<'_, T>) {
            match b {
                BufferMut::Float { value, .. } => {
                    value.iter_mut().for_each(|v| *v = T::of(self.0.random_range(0.5..2.0)));
                }
                BufferMut::Count { value, .. } => *value = self.0.random_range(1..1000),
            }
        }
    }
    model.visit_mut(&mut S(seeded_rng(seed)));
}

/// Compiles a file written by [`nn::export`](crate::export) with `rustc` (or
/// `$RUSTC`) on the host, and runs its `predict` on `inputs`: consecutive
/// samples of `INPUT` values, or of `steps` time steps of `INPUT` values each
/// for a sequence network (`Some(steps)`). Returns the outputs, sample after
/// sample.
///
/// The file is first compiled alone, as a module of a `#![no_std]` library
/// with every warning an error and no crate to link: so it needs no `std`,
/// `alloc` or dependency, and compiles cleanly. Errors carry rustc's message.
pub fn run_exported(source: &str, inputs: &[f32], steps: Option<usize>) -> Result<Vec<f32>, String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};

    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let dir =
        std::env::temp_dir().join(format!("nn-export-{}-{}", std::process::id(), RUNS.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).map_err(|e| e.to_string());
    write("net.rs", source)?;
    write("lib.rs", "#![no_std]\npub mod net;\n")?;
    let predict = match steps {
        None => "net::predict(sample.try_into().unwrap())",
        Some(_) => {
            "{ let steps: Vec<[f32; net::INPUT]> = sample.chunks_exact(net::INPUT).map(|s| s.try_into().unwrap()).collect(); net::predict(&steps) }"
        }
    };
    write(
        "main.rs",
        &format!(
            "mod net;
use std::io::{{Read, Write}};
fn main() {{
    let steps: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes).unwrap();
    let xs: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let mut out = Vec::new();
    for sample in xs.chunks_exact(net::INPUT * steps) {{
        for v in {predict} {{
            out.extend_from_slice(&v.to_le_bytes());
        }}
    }}
    std::io::stdout().write_all(&out).unwrap();
}}
"
        ),
    )?;
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let compile = |args: &[&str]| -> Result<(), String> {
        let out = Command::new(&rustc).current_dir(&dir).args(["--edition", "2021"]).args(args).output();
        let out = out.map_err(|e| format!("cannot run rustc: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    };
    compile(&["--crate-type", "lib", "--emit", "metadata", "-D", "warnings", "lib.rs"])?;
    compile(&["-C", "opt-level=1", "-o", "main", "main.rs"])?;

    let mut child = Command::new(dir.join("main"))
        .arg(steps.unwrap_or(1).to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let bytes: Vec<u8> = inputs.iter().flat_map(|v| v.to_le_bytes()).collect();
    // Written from another thread: the program's output could fill the pipe before it has read all its input.
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let feeder = std::thread::spawn(move || stdin.write_all(&bytes));
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    feeder.join().map_err(|_| "the input thread panicked")?.map_err(|e| e.to_string())?;
    std::fs::remove_dir_all(&dir).ok();
    if !out.status.success() {
        return Err(format!("the exported network's program failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out.stdout.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

/// Holds an exported network's outputs to the network's own (`own`), sample
/// by sample (`outputs` values each): the largest difference over a sample's
/// outputs must be below 1e-5 of its largest output, and the largest output
/// must be the same one.
pub fn assert_exported_agrees(what: &str, exported: &[f32], own: &[f32], outputs: usize) {
    assert_eq!(exported.len(), own.len(), "{what}: as many outputs");
    let argmax = |v: &[f32]| (0..v.len()).fold(0, |best, i| if v[i] > v[best] { i } else { best });
    for (s, (a, b)) in exported.chunks_exact(outputs).zip(own.chunks_exact(outputs)).enumerate() {
        let diff = a.iter().zip(b).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        let size = b.iter().fold(0f32, |m, b| m.max(b.abs()));
        assert!(diff <= 1e-5 * size, "{what}, sample {s}: exported {a:?}, nn {b:?}");
        assert_eq!(argmax(a), argmax(b), "{what}, sample {s}: the class differs");
    }
}
