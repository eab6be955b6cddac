nn::network! {
    struct Net(seq 8 -> 2) {
        dense(16),
        batch_norm,
        lstm(16),
        last,
        dense(2),
    }
}

fn main() {}
