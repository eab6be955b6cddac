//! `seeded(s)` gives the same weights, bit for bit, across changes of how a
//! network is generated: the values below were computed before the network
//! API moved into the runtime (issue 14), so any change of the generator's
//! draw order (items, blocks, dropout seeds, recurrent cells) shows here.

use nn::prelude::*;

nn::network! {
    /// Every block, dropout seeds drawn between layers, default initializers.
    pub struct Blocks(6 -> 3) {
        dense(8), batch_norm, relu, dropout(0.25),
        repeat(2) { residual { dense(8), tanh }, highway { dense(8), selu } },
        residual(projection) { dense(5), elu },
        concat { dense(3), prelu },
        parallel { branch { dense(2), sigmoid }, branch { dropout(0.5), dense(4) } },
        aux_head(weight = 0.5) { dense(3) },
        layer_norm,
        dense(3, init = orthogonal(gain = 0.5)),
    }

    pub struct Image((2, 5, 5) -> 2) {
        conv2d(3, kernel = 3, padding = 1), batch_norm, relu,
        parallel { branch { conv2d(2, kernel = 1) }, branch { max_pool(3, stride = 1, padding = 1), conv2d(1, kernel = 1) } },
        avg_pool(2), flatten, dropout(0.1), dense(2),
    }

    pub struct Recurrent(seq 3 -> 2) {
        dense(4), dropout(0.2), rnn(3), lstm(4, forget_bias = 1.0), gru(3, recurrent_init = xavier_normal), last, dense(2),
    }
}

/// The first value of every parameter tensor and the sum of all of them, in f64.
fn fingerprint<M: Model<f64>>(net: &M) -> (Vec<f64>, f64) {
    let params = net.parameters();
    (params.iter().map(|p| p.value[0]).collect(), params.iter().flat_map(|p| p.value.iter()).sum())
}

#[test]
fn seeded_weights_are_those_of_before_the_generator_moved() {
    assert_eq!(
        fingerprint(&Blocks::<f64>::seeded(5)),
        (
            vec![
                -0.6206950711806156,
                0.0,
                1.0,
                0.0,
                0.0717081419524278,
                0.0,
                0.1836990719695245,
                0.0,
                -0.5678310528551267,
                -2.0,
                -0.109021274302181,
                0.0,
                0.36505465728961844,
                0.0,
                0.13689286320734573,
                -2.0,
                -0.1865564920013154,
                0.0,
                -0.31469451827019573,
                0.4117130431614476,
                0.0,
                0.25,
                -0.7391496440455019,
                0.0,
                -0.2579075446177148,
                0.0,
                0.67151491935345,
                0.0,
                1.0,
                0.0,
                -0.027897128247677427,
                0.0,
            ],
            -5.661612967115283
        )
    );
    assert_eq!(
        fingerprint(&Image::<f64>::seeded(6)),
        (
            vec![
                -0.04099473399609775,
                0.0,
                1.0,
                0.0,
                0.3344690403214623,
                0.0,
                -0.968138340711253,
                0.0,
                0.5225560862717817,
                0.0,
            ],
            4.984377512419578
        )
    );
    assert_eq!(
        fingerprint(&Recurrent::<f64>::seeded(7)),
        (
            vec![
                -0.6336385031978533,
                0.0,
                -0.2802375694972376,
                -0.027897418128456142,
                -0.004278031879082489,
                -0.5328942252482105,
                -0.07277620603798984,
                -0.1753029533966688,
                0.032995446805188844,
                0.2852041316182874,
                -0.5264047203218569,
                0.11070580594840874,
                -0.12304518741857073,
                -0.38402154409763034,
                -1.0450583502023831,
                0.0,
            ],
            4.168002366025204
        )
    );
    let first32: Vec<f32> = Blocks::<f32>::seeded(5).parameters().iter().map(|p| p.value[0]).collect();
    assert_eq!(first32[..5], [-0.62069505, 0.0, 1.0, 0.0, 0.07170814]);
}

#[test]
fn seeded_dropout_masks_are_those_of_before_the_generator_moved() {
    let mut net = Blocks::<f64>::seeded(5);
    let x = Batch::<f64, 6>::from_fn(4, |i, j| (i as f64 - 2.5) * 0.4 + j as f64 * 0.3);
    assert_eq!(
        net.forward(&x).as_slice(),
        [
            -0.7706640244910671,
            0.02691121395897376,
            -0.7377190952567028,
            -0.49440923102078355,
            -0.9287254623824561,
            -0.31842033284868165,
            0.5313239452279578,
            -0.6876405143719653,
            0.2147155852104693,
            -0.806319132027661,
            -0.5122959245194838,
            -0.33448390678971557,
        ]
    );
    let mut net = Image::<f64>::seeded(6);
    let x = Batch::<f64, 50>::from_fn(3, |i, j| ((i * 7 + j * 3) % 11) as f64 / 11.0 - 0.5);
    assert_eq!(
        net.forward(&x).as_slice(),
        [
            0.7347706157215503,
            0.8594170810764317,
            0.5895665773107917,
            0.537953516022604,
            0.3237648838537456,
            0.36461465317233344
        ]
    );
    let mut net = Recurrent::<f64>::seeded(7);
    let xs: Vec<Batch<f64, 3>> =
        (0..4).map(|t| Batch::from_fn(2, |i, j| (t + i) as f64 * 0.3 - j as f64 * 0.2)).collect();
    assert_eq!(
        net.forward(&xs).as_slice(),
        [0.36930226331367505, 0.16266511563383773, 0.3622309484850027, 0.1616718184091832]
    );
}
