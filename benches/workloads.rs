//! Issue 9's workloads W1-W6, each next to its floor: the bare matrix products
//! one step needs, done with matrixmultiply directly, in the same run; and
//! issue 15's W7, the train step of `examples/words.rs` on words of their real
//! lengths, next to a batch of one length with as many real steps.
//!
//! ```text
//! MATMUL_NUM_THREADS=1 cargo bench --bench workloads
//! MATMUL_NUM_THREADS=2 cargo bench --bench workloads
//! NN_BENCH_QUICK=1 cargo bench --bench workloads     # smoke run, short timings
//! MATMUL_NUM_THREADS=1 cargo bench --bench workloads -- W7   # W7 alone (writes no file)
//! ```
//!
//! W7's PyTorch side is `tools/bench/torch_bench.py` (`--threads 1`), on the
//! same 64 words; `tools/bench/table.py` sets the two side by side.
//!
//! matrixmultiply reads `MATMUL_NUM_THREADS` once per process, so each thread
//! count is its own run. After criterion's own report, a table gives per
//! workload the median, the ratio to the floor and GFLOP/s (2 m n k per
//! product, the floor's products), and is written to
//! `tools/bench/out/nn-threads-<n>.json` (or `$NN_BENCH_OUT`) for BENCHMARKS.md.
//!
//! The medians are those of criterion's samples (each sample's time per
//! iteration), recorded through `iter_custom`.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use nn::data::{split_words, words, Dataset, Labels};
use nn::kernels::{gemv, MatRef};
use nn::nalgebra::DMatrix;
use nn::optim::{Optimizer, Sgd};
use nn::{Batch, Loss, Model, Targets};

#[path = "support/nets.rs"]
mod nets;

#[allow(dead_code)] // its main and what only main uses
#[path = "../examples/words.rs"]
mod words_example;

/// One product `c = a b + beta c` with the strides a layer uses, repeated `times`
/// (once per time step for the recurrent products).
struct Product {
    /// `(m, k, n)`: a is `m x k`, b `k x n`, c `m x n`.
    dims: (usize, usize, usize),
    /// (row stride, column stride) of a, b and c.
    strides: [(usize, usize); 3],
    beta: f32,
    times: usize,
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
}

/// Column-major `rows x cols`, as a batch.
const fn col(rows: usize) -> (usize, usize) {
    (1, rows)
}
/// Row-major `_ x cols`, as a weight.
const fn row(cols: usize) -> (usize, usize) {
    (cols, 1)
}

impl Product {
    #[allow(clippy::too_many_arguments)]
    fn new(
        m: usize,
        k: usize,
        n: usize,
        sa: (usize, usize),
        sb: (usize, usize),
        sc: (usize, usize),
        beta: f32,
    ) -> Self {
        let fill = |len: usize| (0..len).map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 1e-3).collect::<Vec<_>>();
        let (a, b, c) = (fill(m * k), fill(k * n), fill(m * n));
        Self { dims: (m, k, n), strides: [sa, sb, sc], beta, times: 1, a, b, c }
    }
    fn times(self, times: usize) -> Self {
        Self { times, ..self }
    }
    fn flops(&self) -> f64 {
        let (m, k, n) = self.dims;
        2.0 * (m * k * n * self.times) as f64
    }
    fn run(&mut self) {
        let ((m, k, n), [sa, sb, sc]) = (self.dims, self.strides);
        for _ in 0..self.times {
            // SAFETY: a, b, c hold m*k, k*n, m*n elements and the strides are those
            // of a dense row- or column-major layout of exactly that size.
            unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    self.a.as_ptr(),
                    sa.0 as isize,
                    sa.1 as isize,
                    self.b.as_ptr(),
                    sb.0 as isize,
                    sb.1 as isize,
                    self.beta,
                    self.c.as_mut_ptr(),
                    sc.0 as isize,
                    sc.1 as isize,
                )
            }
        }
    }
}

/// The three products of a dense layer `i -> o` on a batch of `b`, in the
/// layouts `nn::layers::Dense` uses: y = W x, dW += g x^T, dx = W^T g.
fn dense_products(i: usize, o: usize, b: usize) -> [Product; 3] {
    [
        Product::new(o, i, b, row(i), col(i), col(o), 0.0),
        Product::new(o, b, i, col(o), row(i), row(i), 1.0),
        Product::new(i, o, b, (1, i), col(o), col(i), 0.0),
    ]
}

/// An MLP's floor: three products per dense layer.
fn mlp_floor(widths: &[usize], batch: usize) -> Vec<Product> {
    widths.windows(2).flat_map(|w| dense_products(w[0], w[1], batch)).collect()
}

/// A recurrent net's floor (`gates` = 4 for LSTM, 3 for GRU), input `i`, hidden
/// `h`, `steps` steps, batch `b`, then dense(h -> 10) on the last state:
/// the input projections of all steps in one product, the recurrent product
/// per step forward (W_hh h) and backward (W_hh^T dG), the two weight
/// gradients over all steps in one product each.
fn rnn_floor(gates: usize, i: usize, h: usize, steps: usize, b: usize) -> Vec<Product> {
    let (g, tb) = (gates * h, steps * b);
    let mut p = vec![
        Product::new(g, i, tb, row(i), col(i), col(g), 0.0),
        Product::new(g, h, b, row(h), col(h), col(g), 1.0).times(steps),
        Product::new(h, g, b, (1, h), col(g), col(h), 0.0).times(steps),
        Product::new(g, tb, h, col(g), row(h), row(h), 1.0),
        Product::new(g, tb, i, col(g), row(i), row(i), 1.0),
    ];
    p.extend(dense_products(h, 10, b));
    p
}

fn run_floor(products: &mut [Product]) {
    for p in products.iter_mut() {
        p.run();
    }
    black_box(products.last().map(|p| p.c[0]));
}

/// Medians (seconds per iteration) of what was measured, by name.
#[derive(Default)]
struct Medians(Vec<(String, f64)>);

impl Medians {
    fn get(&self, name: &str) -> Option<f64> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, m)| *m)
    }
}

struct Bench<'a> {
    c: &'a mut Criterion,
    medians: Medians,
    sample_size: usize,
}

impl Bench<'_> {
    /// Runs `f` under criterion as `group/name` and keeps the median of the samples.
    fn run(&mut self, group: &str, name: &str, mut f: impl FnMut()) {
        let mut samples = Vec::new();
        let mut g = self.c.benchmark_group(group);
        g.sampling_mode(SamplingMode::Flat);
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    f();
                }
                let elapsed = start.elapsed();
                samples.push(elapsed.as_secs_f64() / iters as f64);
                elapsed
            })
        });
        g.finish();
        // criterion's warm-up also goes through `iter_custom`; its samples are the last ones.
        if samples.len() >= self.sample_size {
            let mut s = samples.split_off(samples.len() - self.sample_size);
            s.sort_by(f64::total_cmp);
            let median = (s[(s.len() - 1) / 2] + s[s.len() / 2]) / 2.0;
            self.medians.0.push((format!("{group}/{name}"), median));
        }
    }
}

fn threads_label() -> String {
    std::env::var("MATMUL_NUM_THREADS").unwrap_or_else(|_| "default".into())
}

fn mlp_workload<N: nets::Net<f32, Batch<f32, I>, 10>, const I: usize>(
    bench: &mut Bench<'_>,
    name: &str,
    mut net: N,
    widths: &[usize],
    batch: usize,
) -> f64 {
    let mut floor = mlp_floor(widths, batch);
    let flops = floor.iter().map(Product::flops).sum();
    bench.run(name, "floor", || run_floor(&mut floor));
    let mut step = nets::Step::<f32, Batch<f32, I>, 10>::new(7, batch);
    bench.run(name, "nn", || {
        black_box(step.run(&mut net));
    });
    flops
}

/// W4/W5: `gates` = 4 (LSTM) or 3 (GRU); input 32, hidden 128, 50 steps, batch 32.
fn rnn_workload<N: nets::Net<f32, [Batch<f32, 32>], 10>>(
    bench: &mut Bench<'_>,
    name: &str,
    mut net: N,
    gates: usize,
) -> f64 {
    let mut floor = rnn_floor(gates, 32, 128, 50, 32);
    let flops = floor.iter().map(Product::flops).sum();
    bench.run(name, "floor", || run_floor(&mut floor));
    let mut step = nets::Step::<f32, Vec<Batch<f32, 32>>, 10>::sequence(8, 50, 32);
    bench.run(name, "nn", || {
        black_box(step.run(&mut net));
    });
    flops
}

/// W7's train step on a batch of token sequences: zero_grad, forward over
/// the real steps, softmax cross-entropy averaged over them, backward, SGD
/// (lr 0.01), as `tools/bench/torch_bench.py`'s W7.
struct SeqStep {
    x: DMatrix<f32>,
    lengths: Vec<usize>,
    classes: Vec<usize>,
    grad: DMatrix<f32>,
    sgd: Sgd<f32>,
}

impl SeqStep {
    /// The step on `words` as `examples/words.rs` presents them.
    fn new(words: &[String]) -> Self {
        let data: Dataset<f32> = words_example::char_data(words).expect("the training words are a-z");
        let Labels::StepClasses { indices, .. } = data.labels() else { unreachable!("a class per step") };
        let (x, lengths, classes) = (data.inputs().clone(), data.lengths().unwrap().to_vec(), indices.clone());
        let grad = DMatrix::zeros(28 * x.nrows(), x.ncols());
        Self { x, lengths, classes, grad, sgd: Sgd::new(0.01) }
    }

    fn real_steps(&self) -> usize {
        self.lengths.iter().sum()
    }

    fn run<M: Model<f32>>(&mut self, net: &mut M) -> f64 {
        net.zero_grad();
        let y = net.forward_seq_view(self.x.as_view(), &self.lengths).expect("token ids below 28");
        let shape = y.shape();
        let targets = Targets::StepClasses { classes: &self.classes, lengths: &self.lengths };
        let loss = Loss::SoftmaxCrossEntropy
            .value_and_grad(y, targets, self.grad.view_mut((0, 0), shape))
            .expect("classes below 28 at the real steps");
        net.backward_params_view(self.grad.view((0, 0), shape)).expect("the gradient of the last forward");
        self.sgd.step(net);
        loss
    }
}

/// W7: `examples/words.rs`'s train step on the first 64 training words (599
/// real steps, 5 to 16 per word); and on 60 training words of 9 letters (10
/// steps each, 600 real steps), to compare mixed lengths with one length.
fn words_workload(bench: &mut Bench<'_>) {
    let (train, _) = split_words(&words(), 0.1, 15).expect("a held-out fraction in (0, 1)");
    let mut mixed = SeqStep::new(&train[..64]);
    assert_eq!(mixed.real_steps(), 599, "W7's batch is torch_bench.py's");
    let nine: Vec<String> = train.iter().filter(|w| w.len() == 9).take(60).cloned().collect();
    let mut fixed = SeqStep::new(&nine);
    assert_eq!(fixed.real_steps(), 600);
    let mut net = words_example::char_lm(7);
    bench.run("W7", "nn", || {
        black_box(mixed.run(&mut net));
    });
    let mut net = words_example::char_lm(7);
    bench.run("W7", "nn-fixed-length", || {
        black_box(fixed.run(&mut net));
    });
}

fn main() {
    let quick = std::env::var_os("NN_BENCH_QUICK").is_some();
    let sample_size = if quick { 10 } else { 30 };
    let (warm, measure) = if quick { (0.2, 0.5) } else { (2.0, 6.0) };
    let mut c = Criterion::default()
        .sample_size(sample_size)
        .warm_up_time(Duration::from_secs_f64(warm))
        .measurement_time(Duration::from_secs_f64(measure))
        .configure_from_args();
    let mut bench = Bench { c: &mut c, medians: Medians::default(), sample_size };
    let mut flops = Vec::new();

    flops.push(("W1", mlp_workload(&mut bench, "W1", nets::W1::seeded(1), &[64, 128, 128, 10], 32)));
    flops.push(("W2", mlp_workload(&mut bench, "W2", nets::W2::seeded(2), &[784, 512, 512, 10], 128)));
    let mut w3_widths = vec![64];
    w3_widths.extend([128; 20]);
    w3_widths.push(10);
    flops.push(("W3", mlp_workload(&mut bench, "W3", nets::W3::seeded(3), &w3_widths, 64)));
    flops.push(("W4", rnn_workload(&mut bench, "W4", nets::W4::seeded(4), 4)));
    flops.push(("W5", rnn_workload(&mut bench, "W5", nets::W5::seeded(5), 3)));

    // W6: W2's network, predict for one sample.
    let net = nets::W2::seeded(2);
    let layers: Vec<(usize, usize, Vec<f32>)> =
        [(784, 512), (512, 512), (512, 10)].iter().map(|&(i, o)| (i, o, vec![0.01; i * o])).collect();
    let weight_bytes = layers.iter().map(|(i, o, _)| (i * o + o) * 4).sum::<usize>();
    let mut bufs: Vec<Vec<f32>> = vec![vec![0.5; 784], vec![0.0; 512], vec![0.0; 512], vec![0.0; 10]];
    bench.run("W6", "floor", || {
        for (l, (i, o, w)) in layers.iter().enumerate() {
            let (src, dst) = bufs.split_at_mut(l + 1);
            gemv(1.0, MatRef::row_major(w, *o, *i), &src[l], 0.0, &mut dst[0]);
        }
        black_box(bufs[3][0]);
    });
    let mut one_column: Vec<Product> = [(784, 512), (512, 512), (512, 10)]
        .iter()
        .map(|&(i, o)| Product::new(o, i, 1, row(i), col(i), col(o), 0.0))
        .collect();
    bench.run("W6", "matrixmultiply-one-column", || run_floor(&mut one_column));
    let x = Batch::<f32, 784>::from_fn(1, |i, _| (i as f32 * 0.01).sin());
    bench.run("W6", "nn", || {
        black_box(net.predict(&x));
    });
    words_workload(&mut bench);

    bench.c.final_summary();
    report(&bench.medians, &flops, weight_bytes, quick);
}

/// Prints the table and writes it as JSON for BENCHMARKS.md.
fn report(medians: &Medians, flops: &[(&str, f64)], weight_bytes: usize, quick: bool) {
    let threads = threads_label();
    let isa = format!("{:?}", nn::kernels::isa());
    println!("\nnn workloads, MATMUL_NUM_THREADS={threads}, matrix-vector loops: {isa}");
    println!("{:<4} {:>12} {:>12} {:>8} {:>10} {:>10}", "", "floor", "nn", "ratio", "GFLOP/s", "floor GF/s");
    let mut json = format!(
        "{{\n  \"threads\": \"{threads}\",\n  \"gemv_isa\": \"{isa}\",\n  \"quick\": {quick},\n  \"workloads\": {{\n"
    );
    let us = |s: Option<f64>| s.map_or("-".to_string(), |s| format!("{:.1} us", s * 1e6));
    let num = |v: Option<f64>| v.map_or("null".to_string(), |v| format!("{v:.9}"));
    let mut entries = Vec::new();
    for (name, f) in flops {
        let floor = medians.get(&format!("{name}/floor"));
        let ours = medians.get(&format!("{name}/nn"));
        let ratio = floor.zip(ours).map(|(a, b)| b / a);
        let gf = ours.map(|t| f / t * 1e-9);
        let floor_gf = floor.map(|t| f / t * 1e-9);
        let fmt = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
        println!(
            "{name:<4} {:>12} {:>12} {:>8} {:>10} {:>10}",
            us(floor),
            us(ours),
            fmt(ratio, 2),
            fmt(gf, 1),
            fmt(floor_gf, 1)
        );
        entries.push(format!(
            "    \"{name}\": {{\"floor_s\": {}, \"nn_s\": {}, \"ratio\": {}, \"flops\": {f}, \"gflops\": {}}}",
            num(floor),
            num(ours),
            num(ratio),
            num(gf)
        ));
    }
    let w6 = medians.get("W6/nn");
    let w6_floor = medians.get("W6/floor");
    let w6_mm = medians.get("W6/matrixmultiply-one-column");
    let per_us = |t: Option<f64>| t.map_or("-".to_string(), |t| format!("{:.0}", weight_bytes as f64 / (t * 1e6)));
    println!(
        "W6   {:>12} {:>12} {:>8}   weight bytes/us: nn {}, floor {}; matrixmultiply one column: {}",
        us(w6_floor),
        us(w6),
        w6_floor.zip(w6).map_or("-".to_string(), |(a, b)| format!("{:.2}", b / a)),
        per_us(w6),
        per_us(w6_floor),
        us(w6_mm)
    );
    entries.push(format!(
        "    \"W6\": {{\"floor_s\": {}, \"nn_s\": {}, \"matrixmultiply_one_column_s\": {}, \"weight_bytes\": {weight_bytes}}}",
        num(w6_floor),
        num(w6),
        num(w6_mm)
    ));
    let (w7, w7_fixed) = (medians.get("W7/nn"), medians.get("W7/nn-fixed-length"));
    println!(
        "W7   {:>12} {:>12} {:>8}   mixed lengths (599 real steps) / one length (600 real steps)",
        us(w7_fixed),
        us(w7),
        w7_fixed.zip(w7).map_or("-".to_string(), |(a, b)| format!("{:.2}", b / a)),
    );
    entries.push(format!(
        "    \"W7\": {{\"nn_s\": {}, \"fixed_length_s\": {}, \"real_steps\": 599, \"fixed_length_real_steps\": 600}}",
        num(w7),
        num(w7_fixed)
    ));
    json.push_str(&entries.join(",\n"));
    json.push_str("\n  }\n}\n");
    // `NN_BENCH_OUT` names the file for runs BENCHMARKS.md keeps apart (the
    // AVX2 cap's three runs).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/bench/out");
    let name = std::env::var("NN_BENCH_OUT").unwrap_or_else(|_| format!("nn-threads-{threads}.json"));
    let path = dir.join(name);
    // A filtered run (`-- W6`, `--bench W4/nn` under perf) measures only part of
    // the workloads; it must not replace a complete session's file.
    let expected = 2 * flops.len() + 3 + 2;
    if medians.0.len() < expected {
        println!("not writing {}: {} of {expected} benchmarks ran (filtered)", path.display(), medians.0.len());
        return;
    }
    let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &json));
    let mut note = String::new();
    match written {
        Ok(()) => write!(note, "wrote {}", path.display()),
        Err(e) => write!(note, "could not write {}: {e}", path.display()),
    }
    .expect("writing to a String");
    println!("{note}");
}
