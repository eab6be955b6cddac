//! Any bytes into the safetensors loader: it must return `Ok` or a typed
//! error, never panic, and leave the model untouched on error.
//!
//! libFuzzer needs a nightly toolchain and `cargo install cargo-fuzz`; from `fuzz/`:
//! `mkdir -p corpus/load && nice cargo +nightly fuzz run load corpus/load seeds/load -- -dict=load.dict -max_total_time=300`
//! (`seeds/load/` holds valid f32 and f64 files for this network; `corpus/` is not committed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_runtime::io::load_from_bytes;
use nn_runtime::testing::LayerModel;
use nn_runtime::{seeded_rng, BatchNorm, Chain, Dense, Init, LayerNorm, Model, Prelu};

type Net = LayerModel<
    f32,
    Chain<
        f32,
        Chain<f32, Dense<f32, 3, 4>, BatchNorm<f32, 4>, 3, 4, 4>,
        Chain<f32, Prelu<f32, 4>, Chain<f32, LayerNorm<f32, 4>, Dense<f32, 4, 2>, 4, 4, 2>, 4, 4, 2>,
        3,
        4,
        2,
    >,
    3,
    2,
>;

fn net() -> Net {
    let mut rng = seeded_rng(1);
    let a = Chain::new(Dense::new(&mut rng, Init::XavierUniform, true), BatchNorm::new(0.1, 1e-5));
    let b = Chain::new(
        Prelu::new(0.25),
        Chain::new(LayerNorm::new(1e-5), Dense::new(&mut rng, Init::XavierUniform, false)),
    );
    LayerModel::new(Chain::new(a, b))
}

fuzz_target!(|data: &[u8]| {
    let mut model = net();
    let before = (model.parameters(), model.buffers());
    if load_from_bytes(&mut model, data).is_err() {
        assert_eq!((model.parameters(), model.buffers()), before, "a failed load changed the model");
    }
});
