//! Recurrent layers stand inside `residual` (same width) and `repeat`, with
//! `dropout` and `layer_norm` between them.

nn::network! {
    struct Net(seq 8 -> 2) {
        gru(8),
        residual { gru(8) },
        repeat(2) { residual { lstm(8), dropout(0.1), layer_norm } },
        last,
        dense(2),
    }
}

fn main() {
    use nn::Model;
    assert_eq!(Net::<f32>::seeded(0).parameters()[4].name, "1.0.weight_ih");
}
