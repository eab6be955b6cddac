//! The facade as a plain dependency: its library is imported as `nn`.

nn::network! {
    struct Tiny(3 -> 2) {
        dense(4), relu,
        residual { dense(4), tanh },
        dense(2),
    }
}

fn main() {
    let net = Tiny::<f32>::seeded(7);
    let y = net.predict(&nn::Batch::<f32, 3>::from_column_slice(&[0.5, -1.0, 2.0]));
    println!("{} outputs: {:?}", Tiny::OUTPUT, y.as_slice());
}
