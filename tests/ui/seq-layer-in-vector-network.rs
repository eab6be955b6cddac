nn::network! {
    struct Net(8 -> 2) {
        lstm(16),
        last,
        dense(2),
    }
}

fn main() {}
