nn::network! {
    struct Net(4 -> 2) {
        dense(8.5), relu,
        dense(2),
    }
}

fn main() {}
