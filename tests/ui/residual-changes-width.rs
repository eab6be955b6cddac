nn::network! {
    struct Net(16 -> 2) {
        dense(32), relu,
        residual { dense(64), relu },
        dense(2),
    }
}

fn main() {}
