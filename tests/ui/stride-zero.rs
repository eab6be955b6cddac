nn::network! {
    struct Net((1, 8, 8) -> 10) {
        conv2d(8, kernel = 3, stride = 0),
        global_avg_pool,
        dense(10),
    }
}

fn main() {}
