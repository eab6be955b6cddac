//! The facade renamed in Cargo.toml (`neural = { package = "nn-static" }`):
//! the generated code must reach the runtime through `neural`, as there is
//! no `nn` in this crate.

neural::network! {
    struct Tiny(3 -> 2) {
        dense(4), relu,
        residual { dense(4), tanh },
        dense(2),
    }
}

fn main() {
    let net = Tiny::<f32>::seeded(7);
    let y = net.predict(&neural::Batch::<f32, 3>::from_column_slice(&[0.5, -1.0, 2.0]));
    println!("{} outputs: {:?}", Tiny::OUTPUT, y.as_slice());
}
