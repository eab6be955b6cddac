//! `embedding(dim)`: a learned vector per token id, as `torch.nn.Embedding`.

use rand::Rng;

use crate::layer::{visit_parts, Io, Param, ParamKind};
use crate::{batch::Batch, init::Init, kernels::Float, layer::Layer};

/// `embedding(D)` over a vocabulary of `V` tokens: `weight [V, D]`, row `v`
/// the vector of token `v`, drawn from N(0, 1) as PyTorch's.
///
/// Its input is one token id per column, a `Batch<T, 1>` of whole numbers
/// (how a `tokens V` network stages its ids, after checking each is below
/// `V`; an id that is not, when the layer is used on its own, gives zeros
/// and no gradient). Backward adds only into the rows of the batch's tokens;
/// ids have no gradient, so dL/dx is zero.
#[derive(Clone, Debug)]
pub struct Embedding<T: Float, const V: usize, const D: usize> {
    weight: Param<T>,
    /// The id of each column of the last training forward (`V`: not an id).
    ids: Vec<usize>,
    io: Io<T, 1, D>,
}

/// The id a value stands for, if it is a whole number below `vocab`.
fn id<T: Float>(v: T, vocab: usize) -> usize {
    let v = v.as_f64();
    if v >= 0.0 && v < vocab as f64 && v.fract() == 0.0 {
        v as usize
    } else {
        vocab
    }
}

/// Row `id` of `weight` (`d` wide) into each column of `out`, zeros for a column that is not an id.
fn gather<T: Float>(weight: &[T], d: usize, ids: impl Iterator<Item = usize>, out: &mut [T]) {
    if d == 0 {
        return;
    }
    for (column, id) in out.chunks_exact_mut(d).zip(ids) {
        match weight.get(d * id..d * (id + 1)) {
            Some(row) => column.copy_from_slice(row),
            None => column.fill(T::zero()),
        }
    }
}

impl<T: Float, const V: usize, const D: usize> Embedding<T, V, D> {
    /// Weights drawn from N(0, 1), as PyTorch's `nn.Embedding`.
    pub fn new<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let mut weight = vec![T::zero(); V * D];
        Init::Normal(1.0).fill(rng, D, V, V, D, &mut weight);
        Self { weight: Param::new(ParamKind::Weight, &[V, D], weight), ids: Vec::new(), io: Io::default() }
    }

    /// The vectors, row-major `[V, D]`.
    pub fn weight(&self) -> &[T] {
        &self.weight.value
    }

    /// The vectors, for editing.
    pub fn weight_mut(&mut self) -> &mut [T] {
        &mut self.weight.value
    }

    /// dL/dweight: each column's gradient added into its token's row.
    fn add_grads(&mut self, g: &Batch<T, D>) {
        if D == 0 {
            return;
        }
        for (column, &id) in g.as_slice().chunks_exact(D).zip(&self.ids) {
            if let Some(row) = self.weight.grad.get_mut(D * id..D * (id + 1)) {
                for (r, v) in row.iter_mut().zip(column) {
                    *r += *v;
                }
            }
        }
    }
}

impl<T: Float, const V: usize, const D: usize> Layer<T, 1, D> for Embedding<T, V, D> {
    fn forward(&mut self, x: &Batch<T, 1>) -> &Batch<T, D> {
        self.ids.clear();
        self.ids.extend(x.iter().map(|&v| id(v, V)));
        let (weight, ids) = (&self.weight.value, &self.ids);
        self.io.write_output(x.ncols(), |y| gather(weight, D, ids.iter().copied(), y))
    }

    fn backward(&mut self, g: &Batch<T, D>) -> &Batch<T, 1> {
        self.add_grads(g);
        self.io.write_input_grad(g.ncols(), |dx| dx.fill(T::zero()))
    }

    fn backward_params(&mut self, g: &Batch<T, D>) {
        self.add_grads(g);
    }

    fn predict(&self, x: &Batch<T, 1>) -> Batch<T, D> {
        let mut y = Batch::<T, D>::zeros(x.ncols());
        gather(&self.weight.value, D, x.iter().map(|&v| id(v, V)), y.as_mut_slice());
        y
    }

    fn io(&self) -> Option<&Io<T, 1, D>> {
        Some(&self.io)
    }

    visit_parts!(tensors: weight);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::seeded_rng;
    use crate::model::Model;
    use crate::testing::LayerModel;

    #[test]
    fn forward_gathers_rows_and_backward_adds_into_the_batchs_rows_only() {
        let mut e = Embedding::<f64, 4, 2>::new(&mut seeded_rng(0));
        e.weight_mut().copy_from_slice(&[0.0, 1.0, 10.0, 11.0, 20.0, 21.0, 30.0, 31.0]);
        let x = Batch::<f64, 1>::from_column_slice(&[2.0, 0.0, 2.0]);
        assert_eq!(e.forward(&x).as_slice(), &[20.0, 21.0, 0.0, 1.0, 20.0, 21.0]);
        assert_eq!(e.predict(&x), e.output().unwrap().clone());
        let g = Batch::<f64, 2>::from_column_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(e.backward(&g).as_slice(), &[0.0; 3]);
        let m = LayerModel::new(e);
        // Token 2 appears twice: its row gets both gradients; tokens 1 and 3 none.
        assert_eq!(m.parameters()[0].grad, [3.0, 4.0, 0.0, 0.0, 6.0, 8.0, 0.0, 0.0]);
        assert_eq!((m.parameters()[0].name.as_str(), &m.parameters()[0].shape[..]), ("weight", &[4, 2][..]));
    }

    #[test]
    fn an_id_outside_the_vocabulary_gives_zeros_and_no_gradient() {
        let mut e = Embedding::<f64, 3, 2>::new(&mut seeded_rng(1));
        let x = Batch::<f64, 1>::from_column_slice(&[3.0, -1.0, 0.5, 1.0]);
        let y = e.forward(&x).clone();
        assert_eq!(&y.as_slice()[..6], &[0.0; 6]);
        assert_eq!(&y.as_slice()[6..], &e.weight()[2..4]);
        e.backward(&Batch::from_element(4, 1.0));
        assert_eq!(LayerModel::new(e).parameters()[0].grad, [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn weights_start_standard_normal_as_pytorch() {
        let e = Embedding::<f64, 100, 50>::new(&mut seeded_rng(2));
        let n = e.weight().len() as f64;
        let mean = e.weight().iter().sum::<f64>() / n;
        let var = e.weight().iter().map(|w| (w - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 0.05 && (var - 1.0).abs() < 0.05, "mean {mean}, variance {var}");
    }
}
