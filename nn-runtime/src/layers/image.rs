//! What image layers share: the geometry of a sliding window over a
//! channel-major `(C, H, W)` sample, and `flatten`.
//!
//! A sample stays one column of `C * H * W` values (C, then H, then W, as a
//! contiguous PyTorch tensor). Layer types check their flattened widths against
//! `(C, H, W)` at compile time and keep a [`Window2d`] as a plain value, so the
//! loops are compiled once per scalar type, not once per image shape.

use super::activation::{Activation, Identity};

pub use crate::kernels::Window2d;

/// `flatten`: (C, H, W) -> C * H * W. The data is already channel-major, as
/// `torch.flatten` reads it, so flattening is the identity; the type exists so
/// that a network names the item (and numbers it as `nn.Sequential` does).
/// Build it with `Flatten::<T, N>::default()`.
pub type Flatten<T, const N: usize> = Activation<T, Identity, N>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{batch::Batch, layer::Layer};

    #[test]
    fn output_size_follows_pytorch_formula() {
        let w = Window2d::new(3, 7, 6, 3, 2, 1);
        // floor((7 + 2 - 3) / 2) + 1 = 4, floor((6 + 2 - 3) / 2) + 1 = 3
        assert_eq!((w.out_height(), w.out_width()), (4, 3));
        assert_eq!(w.input_len(), 126);
        assert_eq!(w.output_len(5), 60);
    }

    #[test]
    fn windows_are_clipped_to_the_image() {
        let w = Window2d::new(1, 5, 5, 3, 2, 1);
        // output row 0 covers padded rows -1..2, i.e. input rows 0..2
        assert_eq!(w.rows_of(0), (0, 2));
        assert_eq!(w.rows_of(1), (1, 4));
        // last row covers 3..6, clipped to 3..5
        assert_eq!(w.rows_of(2), (3, 5));
        let big = Window2d::new(1, 2, 2, 5, 1, 2);
        // a window made only of padding on one side: rows -2..3 -> 0..2
        assert_eq!(big.rows_of(0), (0, 2));
    }

    #[test]
    fn flatten_passes_data_and_gradient_through() {
        let mut f = Flatten::<f64, 6>::default();
        let x = Batch::<f64, 6>::from_fn(2, |i, j| (i * 10 + j) as f64);
        assert_eq!(f.forward(&x), &x);
        let g = Batch::<f64, 6>::from_fn(2, |i, j| i as f64 - j as f64);
        assert_eq!(f.backward(&g), &g);
        assert_eq!(f.predict(&x), x);
    }
}
