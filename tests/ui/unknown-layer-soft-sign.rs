nn::network! {
    struct Net(4 -> 2) {
        dense(8), soft_sign,
        dense(2),
    }
}

fn main() {}
