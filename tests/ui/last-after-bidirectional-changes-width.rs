nn::network! {
    struct Net(seq 8 -> 2) {
        bidirectional { gru(16) },
        dense(8),
        last,
        dense(2),
    }
}

fn main() {}
