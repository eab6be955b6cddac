nn::network! {
    struct Net(4 -> 2) {
        dense(out = 8, true), relu,
        dense(2),
    }
}

fn main() {}
