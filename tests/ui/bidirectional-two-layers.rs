nn::network! {
    struct Net(seq 8 -> 2) {
        bidirectional { lstm(16), dropout(0.1) },
        last,
        dense(2),
    }
}

fn main() {}
