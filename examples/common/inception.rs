//! The Inception networks of `examples/inception_digits.rs`, shared with
//! `benches/inception.rs`, which times one training step of `Heads`: a stem,
//! two Inception modules (1x1, 3x3, 5x5 and pool branches), an auxiliary head
//! after each (or none), global pooling; with and without batch norm. They
//! are written with `inception!` (`inception_parts.rs`), as is the smaller
//! one `tests/inception.rs` trains.

#![allow(dead_code)] // each including target uses a part

#[path = "inception_parts.rs"]
#[macro_use]
pub mod parts;

inception! {
    /// Stem, Inception, two auxiliary heads, Inception, global pooling.
    Heads: stem [conv2d(16, kernel = 3, padding = 1), relu],
    branch_norm [],
    modules [8, 8, 12, 4, 6, 6] [16, 12, 16, 4, 8, 8],
    head [aux_head(weight = 0.3) { avg_pool(2), conv2d(8, kernel = 1), relu, flatten, dense(10) },],
}

inception! {
    /// The same without the auxiliary heads.
    NoHeads: stem [conv2d(16, kernel = 3, padding = 1), relu],
    branch_norm [],
    modules [8, 8, 12, 4, 6, 6] [16, 12, 16, 4, 8, 8],
    head [],
}

inception! {
    /// With heads and batch norm after the stem and every branch.
    HeadsBn: stem [conv2d(16, kernel = 3, padding = 1), batch_norm, relu],
    branch_norm [batch_norm],
    modules [8, 8, 12, 4, 6, 6] [16, 12, 16, 4, 8, 8],
    head [aux_head(weight = 0.3) { avg_pool(2), conv2d(8, kernel = 1), relu, flatten, dense(10) },],
}

inception! {
    /// Batch norm, no heads.
    NoHeadsBn: stem [conv2d(16, kernel = 3, padding = 1), batch_norm, relu],
    branch_norm [batch_norm],
    modules [8, 8, 12, 4, 6, 6] [16, 12, 16, 4, 8, 8],
    head [],
}
