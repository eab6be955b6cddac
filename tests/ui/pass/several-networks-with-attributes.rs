// Several networks in one invocation; doc comments and attributes carry over.
nn::network! {
    /// The encoder.
    #[allow(dead_code)]
    pub struct Encoder(8 -> 2) { dense(4), tanh, dense(2) }

    /// The decoder, private.
    struct Decoder(2 -> 8) { dense(4), tanh, dense(8), }
}

fn main() {
    let mut enc = Encoder::<f64>::seeded(1);
    let dec = Decoder::<f64>::seeded(2);
    let x = nn::Batch::<f64, 8>::zeros(5);
    let z = enc.forward(&x);
    let y = dec.predict(&z);
    assert_eq!((y.nrows(), y.ncols()), (8, 5));
}
