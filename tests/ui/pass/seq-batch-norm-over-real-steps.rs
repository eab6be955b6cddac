//! `batch_norm` before `last` normalizes over the batch and its real steps
//! (as `BatchNorm1d` on (N, C, L) without padding).

nn::network! {
    struct Net(seq 8 -> 2) {
        dense(16),
        batch_norm,
        lstm(16),
        last,
        dense(2),
    }
}

fn main() {
    use nn::Batch;
    let mut net = Net::<f32>::seeded(0);
    let xs: Vec<Batch<f32, 8>> = vec![Batch::from_element(3, 0.5); 4];
    assert_eq!(net.forward_padded(&xs, &[4, 2, 1]).unwrap().ncols(), 3);
}
