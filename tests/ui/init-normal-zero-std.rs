nn::network! {
    struct Net(16 -> 10) {
        dense(32, init = normal(std = 0.0)), tanh,
        dense(10),
    }
}

fn main() {}
