// Every item of DESIGN.md's table, with and without arguments.
nn::network! {
    pub struct Everything(12 -> 3) {
        dense(16, init = he_uniform, bias = false), batch_norm(momentum = 0.2, eps = 1e-3), relu,
        dense(16, init = orthogonal(gain = 2.0)), layer_norm(1e-4), leaky_relu(slope = 0.2),
        dense(16, init = normal(0.02)), elu(0.5), dense(16, init = constant(-0.1)), selu,
        dense(16, init = uniform(0.1)), gelu, swish, silu, mish, softplus, prelu(init = 0.1),
        dense(16, init = xavier_normal), sigmoid, tanh, identity, dropout(p = 0.25),
        relu6, hardswish, hardsigmoid, softsign,
        residual { dense(16, init = zeros), relu },
        residual(projection) { dense(8, init = lecun_normal), selu },
        highway { dense(8), tanh },
        concat { dense(4), relu },
        parallel { branch { dense(5), relu }, branch { dense(7) } },
        aux_head(weight = 0.5) { dense(3) },
        repeat(k = 2) { dense(12), relu },
        dense(3, init = xavier_uniform),
    }
}

fn main() {
    let net = Everything::<f32>::seeded(7);
    assert_eq!(Everything::INPUT, 12);
    assert_eq!(Everything::OUTPUT, 3);
    assert!(net.summary().contains("total parameters"));
}
