use nn::prelude::*;

nn::network! {
    /// A test.
    pub struct Net(4 -> 3) {
        dense(8), batch_norm, relu,
        repeat(2) { residual { dense(8), layer_norm, gelu } },
        highway { dense(8), tanh },
        concat { dense(2), prelu },
        parallel { branch { dense(3), selu }, branch { dense(5), leaky_relu(0.1) } },
        residual(projection) { dense(6), elu },
        aux_head(weight = 0.3) { dense(3) },
        dropout(0.2),
        swish, mish, softplus, sigmoid, identity, silu,
        dense(3),
    }
}

#[test]
fn smoke() {
    let mut net = Net::<f64>::seeded(1);
    let x = Batch::<f64, 4>::from_fn(5, |i, j| (i + j) as f64 * 0.1);
    let y = net.forward(&x);
    assert_eq!(y.ncols(), 5);
    println!("{}", net.summary());
    let r = nn::testing::grad_check(&mut net, 3, 1);
    println!("{r:?}");
    r.assert_below(1e-6);
    println!("{} {}", Net::INPUT, Net::OUTPUT);
}
#[test]
fn consts() {
    assert_eq!(Net::<f64>::INPUT, 4);
    assert_eq!(<Net<f64> as Model<f64>>::OUTPUT, 3);
}
