//! Every layer and block, exported, compiled by rustc and run, against its
//! own `predict`: per sample, the largest difference over the outputs below
//! 1e-5 of the largest output. Weights and running statistics are scrambled
//! first, so batch norm folds non-trivial statistics.

use rand_distr::{Distribution, StandardNormal};

use super::{rust_of, Export, ExportError};
use crate::blocks::{Branch, Chain, Concat, Highway, Parallel, Repeat, Residual, ResidualProjection};
use crate::layers::{
    Activation, AvgPool2d, BatchNorm, BatchNorm2d, Conv2d, Dense, Dropout, Elu, Flatten, Gelu, GlobalAvgPool, Identity,
    LayerNorm, LeakyRelu, MaxPool2d, Mish, Prelu, Relu, Selu, Sigmoid, Softplus, Swish, Tanh,
};
use crate::testing::{assert_exported_agrees, run_exported, scramble, LayerModel};
use crate::{
    batch::Batch,
    blocks::AuxHead,
    init::{seeded_rng, Init},
    layer::Layer,
};

/// `n` samples of `I` values, normal with standard deviation `scale`.
fn inputs<const I: usize>(n: usize, scale: f32, seed: u64) -> Batch<f32, I> {
    let mut rng = seeded_rng(seed);
    Batch::from_fn(n, |_, _| scale * <StandardNormal as Distribution<f32>>::sample(&StandardNormal, &mut rng))
}

fn check<L: Layer<f32, I, O> + Export<f32>, const I: usize, const O: usize>(what: &str, layer: L, scale: f32) {
    let mut model = LayerModel::new(layer);
    scramble(&mut model, 11);
    let x = inputs::<I>(64, scale, 5);
    let own = model.layer.predict(&x);
    let source = rust_of::<f32>(what, I, &model.layer).unwrap();
    let exported = run_exported(&source, x.as_slice(), None).unwrap_or_else(|e| panic!("{what}: {e}\n{source}"));
    assert_exported_agrees(what, &exported, own.as_slice(), O);
}

#[test]
fn every_activation_agrees_over_its_range() {
    check("sigmoid", Activation::<f32, Sigmoid, 16>::default(), 6.0);
    check("tanh", Activation::<f32, Tanh, 16>::default(), 6.0);
    check("relu", Activation::<f32, Relu, 16>::default(), 6.0);
    check("leaky_relu", Activation::<f32, _, 16>::new(LeakyRelu { slope: 0.2 }), 6.0);
    check("elu", Activation::<f32, _, 16>::new(Elu { alpha: 1.5 }), 6.0);
    check("selu", Activation::<f32, Selu, 16>::default(), 6.0);
    check("gelu", Activation::<f32, Gelu, 16>::default(), 6.0);
    check("swish", Activation::<f32, Swish, 16>::default(), 6.0);
    check("mish", Activation::<f32, Mish, 16>::default(), 6.0);
    check("softplus", Activation::<f32, Softplus, 16>::default(), 12.0);
    check("prelu", Prelu::<f32, 16>::new(0.25), 6.0);
}

#[test]
fn vector_layers_and_blocks_agree() {
    let rng = &mut seeded_rng(3);
    let dense = |rng: &mut crate::init::SeededRng| Dense::<f32, 6, 6>::new(rng, Init::XavierNormal, true);
    // dense, batch_norm (folded), relu, residual, highway, concat, layer_norm,
    // parallel, batch_norm (not folded: a parallel precedes it), dropout,
    // residual with a projection, aux_head, repeat.
    let net = Chain::new(
        Dense::<f32, 8, 6>::new(rng, Init::HeNormal, true),
        Chain::new(
            Chain::new(BatchNorm::<f32, 6>::new(0.1, 1e-5), Activation::<f32, Relu, 6>::default()),
            Chain::new(
                Residual::new(Chain::new(dense(rng), Activation::<f32, Tanh, 6>::default())),
                Chain::new(
                    Highway::new(
                        &mut seeded_rng(7),
                        Chain::new(dense(rng), Activation::<f32, Sigmoid, 6>::default()),
                        Init::XavierNormal,
                    ),
                    Chain::new(
                        Concat::<f32, _, 6, 3, 9>::new(Dense::<f32, 6, 3>::new(rng, Init::XavierNormal, false)),
                        Chain::new(
                            LayerNorm::<f32, 9>::new(1e-5),
                            Chain::new(
                                Parallel::<f32, _, 9, 11>::new((
                                    Branch::<_, 2>(Dense::<f32, 9, 2>::new(rng, Init::XavierNormal, true)),
                                    Branch::<_, 9>(Activation::<f32, Gelu, 9>::default()),
                                )),
                                Chain::new(
                                    Chain::new(BatchNorm::<f32, 11>::new(0.1, 1e-3), Dropout::new(0.5, seeded_rng(1))),
                                    Chain::new(
                                        ResidualProjection::new(
                                            &mut seeded_rng(8),
                                            Dense::<f32, 11, 4>::new(rng, Init::XavierNormal, true),
                                            Init::XavierUniform,
                                        ),
                                        Chain::new(
                                            AuxHead::new(Dense::<f32, 4, 3>::new(rng, Init::XavierNormal, true), 0.3),
                                            Repeat::<f32, _, 4, 2>::from_fn(|c| {
                                                Chain::new(
                                                    Dense::<f32, 4, 4>::new(
                                                        &mut seeded_rng(c as u64),
                                                        Init::XavierNormal,
                                                        true,
                                                    ),
                                                    Activation::<f32, Tanh, 4>::default(),
                                                )
                                            }),
                                        ),
                                    ),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
        ),
    );
    check("vector blocks", net, 1.0);
}

#[test]
fn image_layers_agree() {
    let rng = &mut seeded_rng(4);
    // (1, 6, 6) -> conv 3x3 pad 1 -> (4, 6, 6) -> batch_norm (folded) -> relu
    // -> max_pool 2 -> (4, 3, 3) -> batch_norm (a scale and shift) -> conv 2x2
    // stride 1 -> (3, 2, 2) -> avg_pool 2 stride 1 pad 1 -> (3, 3, 3)
    // -> global_avg_pool -> 3 -> dense 2; and a flatten branch.
    let net = Chain::new(
        Conv2d::<f32, 36, 144>::new::<1, 6, 6, 4, 3, 1, 1>(rng, Init::HeNormal, true),
        Chain::new(
            Chain::new(BatchNorm2d::<f32, 144>::new::<4, 6, 6>(0.1, 1e-5), Activation::<f32, Relu, 144>::default()),
            Chain::new(
                Chain::new(
                    MaxPool2d::<f32, 144, 36>::new::<4, 6, 6, 2, 2, 0>(),
                    BatchNorm2d::<f32, 36>::new::<4, 3, 3>(0.1, 1e-5),
                ),
                Chain::new(
                    Conv2d::<f32, 36, 12>::new::<4, 3, 3, 3, 2, 1, 0>(rng, Init::HeNormal, false),
                    Chain::new(
                        AvgPool2d::<f32, 12, 27>::new::<3, 2, 2, 2, 1, 1>(),
                        Parallel::<f32, _, 27, 29>::new((
                            Branch::<_, 2>(Chain::new(
                                GlobalAvgPool::<f32, 27, 3>::new::<3, 3, 3>(),
                                Dense::<f32, 3, 2>::new(rng, Init::XavierNormal, true),
                            )),
                            Branch::<_, 27>(Flatten::<f32, 27>::default()),
                        )),
                    ),
                ),
            ),
        ),
    );
    check("image layers", net, 1.0);
}

#[test]
fn the_file_names_what_it_folded_and_needs_no_identity() {
    let rng = &mut seeded_rng(5);
    let mut net = LayerModel::new(Chain::new(
        Dense::<f32, 3, 2>::new(rng, Init::XavierNormal, false),
        Chain::new(BatchNorm::<f32, 2>::new(0.1, 1e-5), Activation::<f32, Identity, 2>::default()),
    ));
    scramble(&mut net, 2);
    let source = rust_of::<f32>("Tiny", 3, &net.layer).unwrap();
    // The batch norm became the dense layer's bias: one product, no scale_shift.
    assert_eq!(source.matches("dense(&").count(), 1, "{source}");
    assert!(source.contains("static L0_BIAS: [f32; 2]") && !source.contains("scale_shift"), "{source}");
    assert!(!source.contains("map("), "identity computes nothing:\n{source}");
    for word in ["std::", "alloc::", "extern crate", "libm", "use "] {
        assert!(!source.contains(word), "{word} in\n{source}");
    }
}

#[test]
fn a_weight_beyond_f32_is_an_error_naming_it() {
    let mut dense = Dense::<f64, 2, 2>::new(&mut seeded_rng(6), Init::XavierNormal, true);
    dense.weight_mut()[3] = 1e300;
    let err = rust_of::<f64>("Huge", 2, &dense).unwrap_err();
    assert!(matches!(&err, ExportError::NonFinite { tensor, index: 3, .. } if tensor == "L_WEIGHT"), "{err}");
    assert!(err.to_string().contains("L_WEIGHT[3] is 1e300, not a finite f32"), "{err}");
}
