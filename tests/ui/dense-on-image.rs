nn::network! {
    struct Net((1, 8, 8) -> 10) {
        conv2d(8, kernel = 3, padding = 1), relu,
        dense(10),
    }
}

fn main() {}
