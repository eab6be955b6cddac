nn::network! {
    struct Net(4 -> 2) {
        desne(8), relu,
        dense(2),
    }
}

fn main() {}
