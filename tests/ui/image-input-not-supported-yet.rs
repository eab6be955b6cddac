nn::network! {
    struct Net((1, 8, 8) -> 10) {
        dense(10),
    }
}

fn main() {}
