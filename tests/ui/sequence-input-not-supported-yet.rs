nn::network! {
    struct Net(seq 8 -> 2) {
        dense(2),
    }
}

fn main() {}
