nn::network! {
    struct Net((1, 8, 8) -> 10) {
        conv2d(8, kernel = 3), max_pool(2), conv2d(8, kernel = 5),
        global_avg_pool,
        dense(10),
    }
}

fn main() {}
