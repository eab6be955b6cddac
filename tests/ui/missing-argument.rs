nn::network! {
    struct Net(4 -> 2) {
        dense(8), relu, dropout,
        dense(2),
    }
}

fn main() {}
