//! The README's `DigitNet`: `examples/export_digits.rs` exports it for the
//! `embedded/` crate, and `tests/export.rs` holds its exported file to its
//! `predict`. (`examples/digits.rs` trains a shallower one, two residual
//! blocks, for which its settings were chosen.)

nn::network! {
    /// Residual MLP for 8x8 digits (batch norm for the export to fold,
    /// dropout and an auxiliary head for it to leave out).
    pub struct DigitNet(64 -> 10) {
        dense(128), batch_norm, relu,
        repeat(3) {
            residual { dense(128), batch_norm, relu, dense(128), batch_norm },
            relu,
        },
        aux_head(weight = 0.3) { dense(10) },
        dropout(0.1),
        dense(10),
    }
}
