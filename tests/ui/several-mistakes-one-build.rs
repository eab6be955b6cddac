// Every mistake is reported in one build, and code that uses the network
// type-checks against what it declares: no follow-on errors.
use nn::prelude::*;

nn::network! {
    pub struct Net(4 -> 2) {
        dense(8), rleu,
        dropout(1.5),
        residual { dense(3) },
        dense(2),
    }
}

fn main() {
    let mut net = Net::<f64>::seeded(0);
    let y: Batch<f64, 2> = net.forward(&Batch::<f64, 4>::zeros(3));
    let _dx: Batch<f64, 4> = net.backward(&y);
    let _n = Net::INPUT + <Net<f64> as Model<f64>>::OUTPUT;
}
