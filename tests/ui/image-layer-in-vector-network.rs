nn::network! {
    struct Net(64 -> 10) {
        dense(32), relu,
        max_pool(2),
        dense(10),
    }
}

fn main() {}
