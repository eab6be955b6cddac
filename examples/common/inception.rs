//! The Inception networks of `examples/inception_digits.rs`, shared with
//! `benches/inception.rs`, which times one training step of `Heads`: stem,
//! two Inception modules (1x1, 3x3, 5x5 and pool branches), two auxiliary
//! heads, global pooling; with and without the heads and batch norm.

#![allow(dead_code)] // each including target uses a part

nn::network! {
    /// Stem, Inception, two auxiliary heads, Inception, global pooling.
    pub struct Heads((1, 8, 8) -> 10) {
        conv2d(16, kernel = 3, padding = 1), relu,
        parallel {
            branch { conv2d(8, kernel = 1), relu },
            branch { conv2d(8, kernel = 1), relu, conv2d(12, kernel = 3, padding = 1), relu },
            branch { conv2d(4, kernel = 1), relu, conv2d(6, kernel = 5, padding = 2), relu },
            branch { max_pool(3, stride = 1, padding = 1), conv2d(6, kernel = 1), relu },
        },
        aux_head(weight = 0.3) { avg_pool(2), conv2d(8, kernel = 1), relu, flatten, dense(10) },
        max_pool(2),
        parallel {
            branch { conv2d(16, kernel = 1), relu },
            branch { conv2d(12, kernel = 1), relu, conv2d(16, kernel = 3, padding = 1), relu },
            branch { conv2d(4, kernel = 1), relu, conv2d(8, kernel = 5, padding = 2), relu },
            branch { max_pool(3, stride = 1, padding = 1), conv2d(8, kernel = 1), relu },
        },
        aux_head(weight = 0.3) { avg_pool(2), conv2d(8, kernel = 1), relu, flatten, dense(10) },
        global_avg_pool,
        dense(10),
    }

    /// The same without the auxiliary heads.
    pub struct NoHeads((1, 8, 8) -> 10) {
        conv2d(16, kernel = 3, padding = 1), relu,
        parallel {
            branch { conv2d(8, kernel = 1), relu },
            branch { conv2d(8, kernel = 1), relu, conv2d(12, kernel = 3, padding = 1), relu },
            branch { conv2d(4, kernel = 1), relu, conv2d(6, kernel = 5, padding = 2), relu },
            branch { max_pool(3, stride = 1, padding = 1), conv2d(6, kernel = 1), relu },
        },
        max_pool(2),
        parallel {
            branch { conv2d(16, kernel = 1), relu },
            branch { conv2d(12, kernel = 1), relu, conv2d(16, kernel = 3, padding = 1), relu },
            branch { conv2d(4, kernel = 1), relu, conv2d(8, kernel = 5, padding = 2), relu },
            branch { max_pool(3, stride = 1, padding = 1), conv2d(8, kernel = 1), relu },
        },
        global_avg_pool,
        dense(10),
    }

    /// With heads and batch norm after the stem and every branch.
    pub struct HeadsBn((1, 8, 8) -> 10) {
        conv2d(16, kernel = 3, padding = 1), batch_norm, relu,
        parallel {
            branch { conv2d(8, kernel = 1), batch_norm, relu },
            branch { conv2d(8, kernel = 1), relu, conv2d(12, kernel = 3, padding = 1), batch_norm, relu },
            branch { conv2d(4, kernel = 1), relu, conv2d(6, kernel = 5, padding = 2), batch_norm, relu },
            branch { max_pool(3, stride = 1, padding = 1), conv2d(6, kernel = 1), batch_norm, relu },
        },
        aux_head(weight = 0.3) { avg_pool(2), conv2d(8, kernel = 1), relu, flatten, dense(10) },
        max_pool(2),
        parallel {
            branch { conv2d(16, kernel = 1), batch_norm, relu },
            branch { conv2d(12, kernel = 1), relu, conv2d(16, kernel = 3, padding = 1), batch_norm, relu },
            branch { conv2d(4, kernel = 1), relu, conv2d(8, kernel = 5, padding = 2), batch_norm, relu },
            branch { max_pool(3, stride = 1, padding = 1), conv2d(8, kernel = 1), batch_norm, relu },
        },
        aux_head(weight = 0.3) { avg_pool(2), conv2d(8, kernel = 1), relu, flatten, dense(10) },
        global_avg_pool,
        dense(10),
    }

    /// Batch norm, no heads.
    pub struct NoHeadsBn((1, 8, 8) -> 10) {
        conv2d(16, kernel = 3, padding = 1), batch_norm, relu,
        parallel {
            branch { conv2d(8, kernel = 1), batch_norm, relu },
            branch { conv2d(8, kernel = 1), relu, conv2d(12, kernel = 3, padding = 1), batch_norm, relu },
            branch { conv2d(4, kernel = 1), relu, conv2d(6, kernel = 5, padding = 2), batch_norm, relu },
            branch { max_pool(3, stride = 1, padding = 1), conv2d(6, kernel = 1), batch_norm, relu },
        },
        max_pool(2),
        parallel {
            branch { conv2d(16, kernel = 1), batch_norm, relu },
            branch { conv2d(12, kernel = 1), relu, conv2d(16, kernel = 3, padding = 1), batch_norm, relu },
            branch { conv2d(4, kernel = 1), relu, conv2d(8, kernel = 5, padding = 2), batch_norm, relu },
            branch { max_pool(3, stride = 1, padding = 1), conv2d(8, kernel = 1), batch_norm, relu },
        },
        global_avg_pool,
        dense(10),
    }
}
