nn::network! {
    struct Net(seq 8 -> 2) {
        residual { gru(8) },
        last,
        dense(2),
    }
}

fn main() {}
