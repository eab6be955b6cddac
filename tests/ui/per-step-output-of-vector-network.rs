nn::network! {
    struct Net(8 -> seq 3) {
        dense(3),
    }
}

fn main() {}
