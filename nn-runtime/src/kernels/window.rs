//! [`Window2d`]: the geometry of a sliding window over a channel-major
//! `(C, H, W)` sample, which the image kernels (`im2col`, pooling) walk and
//! the image layers keep (`nn::layers::Window2d`).

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
