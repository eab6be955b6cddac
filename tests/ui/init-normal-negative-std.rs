nn::network! {
    struct Net(16 -> 10) {
        dense(32, init = normal(-0.1)), relu,
        dense(10),
    }
}

fn main() {}
