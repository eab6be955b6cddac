nn::network! {
    struct Net(4 -> 2) {
        dense(8), relu, dropout(0.1, 0.2),
        dense(2),
    }
}

fn main() {}
