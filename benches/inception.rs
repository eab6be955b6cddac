//! One training step (forward, loss and head gradients, backward, Adam) of the
//! Inception network of `examples/inception_digits.rs` on a batch of 32
//! digits, and separately the matrix products that step performs (the same
//! `gemm` calls with the same shapes and layouts), so their share of the step
//! can be read off: `cargo bench --bench inception`. The same for W8 (issue
//! 18), LeNet-5 on a batch of 64 random 28x28 images trained with SGD as
//! `benches/workloads.rs` trains W1-W5; its PyTorch side, and the Inception
//! step's, are in `tools/bench/torch_bench.py`.

use criterion::{criterion_group, criterion_main, Criterion};
use nn::data::{digits, Dataset};
use nn::kernels::{gemm, MatMut, MatRef};
use nn::nalgebra::DMatrix;
use nn::prelude::*;
use std::hint::black_box;

#[path = "../examples/common/inception.rs"]
mod inception;
#[path = "support/nets.rs"]
mod nets;

use inception::Heads;

const BATCH: usize = 32;

/// Every weighted layer of `Heads` as (outputs, inputs per output, positions):
/// a convolution multiplies [OC, C*K*K] by [C*K*K, batch * H' * W'], a dense
/// layer [out, in] by [in, batch].
const PRODUCTS: &[(usize, usize, usize)] = &[
    (16, 9, 64),
    (8, 16, 64),
    (8, 16, 64),
    (12, 72, 64),
    (4, 16, 64),
    (6, 100, 64),
    (6, 16, 64),
    (8, 32, 16),
    (10, 128, 1),
    (16, 32, 16),
    (12, 32, 16),
    (16, 108, 16),
    (4, 32, 16),
    (8, 100, 16),
    (8, 32, 16),
    (8, 48, 4),
    (10, 32, 1),
    (10, 48, 1),
];

const W8_BATCH: usize = 64;

/// W8's weighted layers, counted as `PRODUCTS` counts `Heads`'.
const W8_PRODUCTS: &[(usize, usize, usize)] = &[(6, 25, 576), (16, 150, 64), (120, 256, 1), (84, 120, 1), (10, 84, 1)];

/// Buffers for `products` on a batch of `batch`: w, col, z, dz, dW, dcol.
fn product_buffers(products: &[(usize, usize, usize)], batch: usize) -> Vec<[Vec<f32>; 6]> {
    products
        .iter()
        .map(|&(o, p, q)| {
            let n = batch * q;
            [
                vec![0.01; o * p],
                vec![0.5; p * n],
                vec![0.0; o * n],
                vec![0.1; o * n],
                vec![0.0; o * p],
                vec![0.0; p * n],
            ]
        })
        .collect()
}

/// Forward z = W col, backward dW += dz col^T and dcol = W^T dz, per layer.
fn run_products(products: &[(usize, usize, usize)], batch: usize, buffers: &mut [[Vec<f32>; 6]]) {
    for (&(o, p, q), [w, col, z, dz, dw, dcol]) in products.iter().zip(buffers.iter_mut()) {
        let n = batch * q;
        gemm(1.0, MatRef::row_major(w, o, p), MatRef::row_major(col, p, n), 0.0, MatMut::row_major(z, o, n));
        gemm(1.0, MatRef::row_major(dz, o, n), MatRef::row_major(col, p, n).t(), 1.0, MatMut::row_major(dw, o, p));
        gemm(1.0, MatRef::row_major(w, o, p).t(), MatRef::row_major(dz, o, n), 0.0, MatMut::row_major(dcol, p, n));
    }
    black_box(buffers);
}

fn step(net: &mut Heads, opt: &mut Adam<f32>, data: &Dataset<f32>, grad: &mut DMatrix<f32>, aux: &mut DMatrix<f32>) {
    net.zero_grad();
    let y = net.forward_view(data.inputs().as_view()).unwrap();
    Loss::SoftmaxCrossEntropy.value_and_grad(y, data.targets(), grad.as_view_mut()).unwrap();
    for h in 0..net.aux_heads() {
        let (weight, out) = net.aux_output(h).unwrap();
        Loss::SoftmaxCrossEntropy.value_and_grad(out, data.targets(), aux.as_view_mut()).unwrap();
        *aux *= weight as f32;
        net.set_aux_grad(h, aux.as_view()).unwrap();
    }
    net.backward_view(grad.as_view()).unwrap();
    opt.step_with(&mut |v| net.visit_mut(v));
}

fn bench(c: &mut Criterion) {
    let all = digits::<f32>();
    let indices: Vec<usize> = (0..BATCH).collect();
    let batch = all.subset(&indices).unwrap();
    let mut net = Heads::seeded(42);
    let mut opt = Adam::new(1e-3);
    let (mut grad, mut aux) = (DMatrix::zeros(10, BATCH), DMatrix::zeros(10, BATCH));
    c.bench_function("inception train step (batch 32)", |b| {
        b.iter(|| step(&mut net, &mut opt, &batch, &mut grad, &mut aux))
    });

    let mut buffers = product_buffers(PRODUCTS, BATCH);
    c.bench_function("inception matrix products of one step (batch 32)", |b| {
        b.iter(|| run_products(PRODUCTS, BATCH, &mut buffers))
    });

    let mut w8 = nets::W8::<f32>::seeded(8);
    let mut w8_step = nets::Step::<f32, Batch<f32, 784>, 10>::new(9, W8_BATCH);
    c.bench_function("W8 train step (batch 64)", |b| b.iter(|| black_box(w8_step.run(&mut w8))));
    let mut buffers = product_buffers(W8_PRODUCTS, W8_BATCH);
    c.bench_function("W8 matrix products of one step (batch 64)", |b| {
        b.iter(|| run_products(W8_PRODUCTS, W8_BATCH, &mut buffers))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
