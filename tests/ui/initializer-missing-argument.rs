nn::network! {
    struct Net(16 -> 10) {
        dense(32, init = normal), relu,
        dense(10),
    }
}

fn main() {}
