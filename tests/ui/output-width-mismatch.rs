nn::network! {
    struct Net(16 -> 10) {
        dense(32), relu,
        dense(12),
    }
}

fn main() {}
