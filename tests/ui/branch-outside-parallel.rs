nn::network! {
    struct Net(16 -> 10) {
        dense(32), relu,
        branch { dense(32) },
        dense(10),
    }
}

fn main() {}
