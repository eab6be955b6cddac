nn::network! {
    struct Net(4 -> 2) {
        dense(8, init = he_norml), relu,
        dense(2),
    }
}

fn main() {}
