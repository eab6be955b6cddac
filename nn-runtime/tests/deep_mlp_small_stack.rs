//! A 784-1024-1024-10 stack of dense layers must build, run forward and
//! backward inside a thread with a 2 MiB stack (Rust's default for spawned
//! threads, and what `cargo test` gives each test): its 1.8 M weights live on
//! the heap, not in the statically shaped layer structs.

use nn_runtime::{seeded_rng, Activation, Batch, Chain, Dense, Init, Layer, Relu};

type DenseRelu<const I: usize, const O: usize> = Chain<f32, Dense<f32, I, O>, Activation<f32, Relu, O>, I, O, O>;
type Mlp = Chain<
    f32,
    Chain<f32, DenseRelu<784, 1024>, DenseRelu<1024, 1024>, 784, 1024, 1024>,
    Dense<f32, 1024, 10>,
    784,
    1024,
    10,
>;

fn dense_relu<const I: usize, const O: usize>(rng: &mut nn_runtime::SeededRng) -> DenseRelu<I, O> {
    Chain::new(Dense::new(rng, Init::HeNormal, true), Activation::new(Relu))
}

#[test]
fn mlp_784_1024_1024_10_trains_a_step_in_a_2_mib_thread() {
    let result = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| {
            let mut rng = seeded_rng(0);
            let first = dense_relu::<784, 1024>(&mut rng);
            let second = dense_relu::<1024, 1024>(&mut rng);
            let mut mlp: Mlp = Chain::new(Chain::new(first, second), Dense::new(&mut rng, Init::XavierUniform, true));
            let x = Batch::<f32, 784>::from_fn(8, |i, j| ((i * 7 + j * 13) % 17) as f32 / 17.0);
            let y = mlp.forward(&x).clone();
            assert_eq!(y.ncols(), 8);
            assert!(y.iter().all(|v| v.is_finite()));
            assert!(y.iter().any(|v| *v != 0.0));
            let dx = mlp.backward(&Batch::<f32, 10>::from_element(8, 1.0)).clone();
            assert!(dx.iter().all(|v| v.is_finite()));
            assert!(dx.iter().any(|v| *v != 0.0), "the gradient reaches the input");
            assert_eq!(mlp.predict(&x), y);
        })
        .expect("spawn a thread")
        .join();
    assert!(result.is_ok(), "the 2 MiB thread panicked (stack overflow aborts instead)");
}
