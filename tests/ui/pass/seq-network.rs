//! A sequence network compiles and its API has the sequence signatures.

use nn::prelude::*;

nn::network! {
    /// The adding problem's network, with every option of the recurrent items.
    #[derive(Clone, Debug)]
    pub struct Adder(seq 2 -> 1) {
        dense(8), tanh, dropout(0.1),
        rnn(8, recurrent_init = xavier_uniform),
        lstm(16, forget_bias = 1.0),
        gru(8, recurrent_init = orthogonal(gain = 0.5)),
        layer_norm,
        last,
        dense(4), relu, dense(1),
    }
}

fn main() {
    let mut net = Adder::<f32>::seeded(0);
    let xs: Vec<Batch<f32, 2>> = vec![Batch::zeros(3); 5];
    let y: Batch<f32, 1> = net.forward(&xs);
    let dx: Vec<Batch<f32, 2>> = net.backward(&y);
    let _: &[Batch<f32, 2>] = net.backward_ref(&y);
    let _: Batch<f32, 1> = net.predict(&xs);
    assert_eq!(dx.len(), 5);
    assert!(<Adder as Model<f32>>::SEQUENCE);
}
