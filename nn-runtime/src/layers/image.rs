//! What image layers share: the geometry of a sliding window over a
//! channel-major `(C, H, W)` sample, and `flatten`.
//!
//! A sample stays one column of `C * H * W` values (C, then H, then W, as a
//! contiguous PyTorch tensor). Layer types check their flattened widths against
//! `(C, H, W)` at compile time and keep a [`Window2d`] as a plain value, so the
//! loops are compiled once per scalar type, not once per image shape.

use super::activation::{Activation, Identity};

/// A `kernel x kernel` window moved by `stride` over a `(channels, height, width)`
/// image padded by `padding` on every side, as PyTorch's `Conv2d`, `MaxPool2d`
/// and `AvgPool2d` (dilation 1, `ceil_mode = False`).
///
/// Only the layers build one (their constructors check it at compile time);
/// others read it through the accessors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window2d {
    pub(crate) channels: usize,
    pub(crate) height: usize,
    pub(crate) width: usize,
    pub(crate) kernel: usize,
    pub(crate) stride: usize,
    pub(crate) padding: usize,
}

impl Window2d {
    /// Panics (at compile time: the layers call it in a `const` block) unless the
    /// window fits: stride and kernel at least 1, kernel no larger than the padded input.
    pub(crate) const fn new(
        channels: usize,
        height: usize,
        width: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Self {
        assert!(stride >= 1, "image layer: stride must be at least 1");
        assert!(kernel >= 1, "image layer: kernel must be at least 1");
        assert!(
            kernel <= height + 2 * padding && kernel <= width + 2 * padding,
            "image layer: kernel larger than the padded input"
        );
        Self { channels, height, width, kernel, stride, padding }
    }

    /// Input channels `C`.
    pub const fn channels(&self) -> usize {
        self.channels
    }
    /// Input height `H`.
    pub const fn height(&self) -> usize {
        self.height
    }
    /// Input width `W`.
    pub const fn width(&self) -> usize {
        self.width
    }
    /// Kernel size `K` (the window is `K x K`).
    pub const fn kernel(&self) -> usize {
        self.kernel
    }
    /// Stride `S`.
    pub const fn stride(&self) -> usize {
        self.stride
    }
    /// Padding `P` on every side.
    pub const fn padding(&self) -> usize {
        self.padding
    }

    /// Output rows: `(H + 2P - K) / S + 1`.
    pub const fn out_height(&self) -> usize {
        (self.height + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// Output columns: `(W + 2P - K) / S + 1`.
    pub const fn out_width(&self) -> usize {
        (self.width + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// Values per input sample: `C * H * W`.
    pub const fn input_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Values per output sample with `out_channels` channels.
    pub const fn output_len(&self, out_channels: usize) -> usize {
        out_channels * self.out_height() * self.out_width()
    }

    /// The input rows `[start, end)` that output row `o` reads, clipped to the
    /// image (padding cells are left out): the plain definition the kernels'
    /// tests check them against.
    #[cfg(test)]
    pub(crate) fn rows_of(&self, o: usize) -> (usize, usize) {
        clip(o * self.stride, self.padding, self.kernel, self.height)
    }

    /// The input columns `[start, end)` that output column `o` reads, clipped.
    #[cfg(test)]
    pub(crate) fn cols_of(&self, o: usize) -> (usize, usize) {
        clip(o * self.stride, self.padding, self.kernel, self.width)
    }
}

/// The window `[at - pad, at - pad + k)` intersected with `[0, len)`.
#[cfg(test)]
fn clip(at: usize, pad: usize, k: usize, len: usize) -> (usize, usize) {
    let start = at.saturating_sub(pad);
    let end = (at + k).saturating_sub(pad).min(len);
    (start, end.max(start))
}

/// `flatten`: (C, H, W) -> C * H * W. The data is already channel-major, as
/// `torch.flatten` reads it, so flattening is the identity; the type exists so
/// that a network names the item (and numbers it as `nn.Sequential` does).
/// Build it with `Flatten::<T, N>::default()`.
pub type Flatten<T, const N: usize> = Activation<T, Identity, N>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Batch, Layer};

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
