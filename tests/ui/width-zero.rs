nn::network! {
    struct Net(4 -> 2) {
        dense(0), relu,
        dense(2),
    }
}

fn main() {}
