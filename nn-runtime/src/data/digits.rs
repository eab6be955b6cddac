//! The UCI optical digits, embedded (see `data/README.md` for the attribution).

use std::io::Read;

use super::{embedded, Csv, Dataset};
use crate::kernels::Float;

static DIGITS_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// The 1797 8x8 digit images of UCI "Optical Recognition of Handwritten
/// Digits" (E. Alpaydin, C. Kaynak, 1998; CC BY 4.0): 64 pixels per sample,
/// row by row, values 0..16, and the digit 0..9 as the class. Feature
/// `datasets` (on by default).
pub fn digits<T: Float>() -> Dataset<T> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(DIGITS_GZ)
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("the embedded digits archive is corrupt: {e}"));
    embedded("digits", &Csv::new().classes(10), &text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Labels;

    #[test]
    fn has_1797_images_of_64_pixels_and_every_digit() {
        let d = digits::<f32>();
        assert_eq!((d.width(), d.len()), (64, 1797));
        assert!(d.inputs().iter().all(|&v| (0.0..=16.0).contains(&v)));
        let Labels::Classes { indices, count: 10 } = d.labels() else { panic!("digits have 10 classes") };
        let mut counts = [0usize; 10];
        indices.iter().for_each(|&c| counts[c] += 1);
        assert!(counts.iter().all(|&c| (170..=190).contains(&c)), "{counts:?}");
    }
}
