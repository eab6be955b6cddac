nn::network! {
    struct Net(16 -> 2) {
        dense(32), relu,
        highway { dense(8), relu },
        dense(2),
    }
}

fn main() {}
