nn::network! {
    struct Net(seq 8 -> sq 2) {
        lstm(8),
        dense(2),
    }
}

fn main() {}
