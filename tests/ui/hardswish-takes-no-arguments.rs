nn::network! {
    struct Net(4 -> 2) {
        dense(8), hardswish(0.5),
        dense(2),
    }
}

fn main() {}
