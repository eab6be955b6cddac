nn::network! {
    struct Net(seq 8 -> 2) {
        bidirectional { dense(16) },
        last,
        dense(2),
    }
}

fn main() {}
