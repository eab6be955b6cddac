nn::network! {
    struct Net((3, 8, 8) -> 10) {
        conv2d(16, kernel = 3, padding = 1), relu,
        parallel {
            branch { conv2d(8, kernel = 1) },
            branch { conv2d(8, kernel = 3) },
            branch { max_pool(2), conv2d(4, kernel = 1) },
        },
        global_avg_pool,
        dense(10),
    }
}

fn main() {}
