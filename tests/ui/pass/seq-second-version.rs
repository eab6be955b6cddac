//! The networks of DESIGN.md's "Sequences, second version", and the types
//! of their APIs: token sequences in, one batch per step out.

use nn::Batch;

nn::network! {
    pub struct Tagger(seq 16 -> seq 5) { lstm(64), dropout(0.2), lstm(64), dense(5) }
    pub struct CharLm(tokens 28 -> seq 28) { embedding(32), lstm(128), dense(28) }
    pub struct Reviews(tokens 5000 -> 2) { embedding(64), bidirectional { gru(64) }, last, dense(2) }
    pub struct Deep(seq 8 -> 1) { lstm(32), residual { lstm(32), layer_norm }, last, dense(1) }
}

fn main() {
    let mut lm = CharLm::<f32>::seeded(0);
    let ys: Vec<Batch<f32, 28>> = lm.forward(&[vec![27, 3], vec![27]]);
    let _: Vec<Batch<f32, 1>> = lm.backward(&ys);
    let _: Result<Vec<Batch<f32, 28>>, nn::ShapeError> = lm.try_predict(&[vec![1]]);
    let mut tagger = Tagger::<f32>::seeded(0);
    let xs = vec![Batch::<f32, 16>::zeros(2); 3];
    let tags: Vec<Batch<f32, 5>> = tagger.forward_padded(&xs, &[3, 1]).unwrap();
    let _: Vec<Batch<f32, 16>> = tagger.backward(&tags);
    let _: Batch<f32, 2> = Reviews::<f32>::seeded(0).predict(&[vec![4999]]);
    let _: Batch<f32, 1> = Deep::<f32>::seeded(0).predict_padded(&xs.iter().map(|_| Batch::zeros(2)).collect::<Vec<Batch<f32, 8>>>(), &[1, 3]).unwrap();
    assert_eq!(CharLm::VOCAB, 28);
}
