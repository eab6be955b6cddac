//! The program of both users, written once so that it stays the same in
//! each: `program!(facade)` writes it with the facade named `facade`. Both
//! build the same network from the same seed and run it on the same input,
//! so the two print the same.

macro_rules! program {
    ($facade:ident) => {
        $facade::network! {
            struct Tiny(3 -> 2) {
                dense(4), relu,
                residual { dense(4), tanh },
                dense(2),
            }
        }

        fn main() {
            let net = Tiny::<f32>::seeded(7);
            let y = net.predict(&$facade::Batch::<f32, 3>::from_column_slice(&[0.5, -1.0, 2.0]));
            println!("{} outputs: {:?}", Tiny::OUTPUT, y.as_slice());
        }
    };
}
