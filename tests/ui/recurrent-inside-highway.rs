nn::network! {
    struct Net(seq 8 -> 2) {
        lstm(8),
        highway { gru(8) },
        last,
        dense(2),
    }
}

fn main() {}
