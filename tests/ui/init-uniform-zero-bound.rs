nn::network! {
    struct Net(16 -> 10) {
        dense(32, init = uniform(0)), relu,
        dense(10),
    }
}

fn main() {}
