nn::network! {
    struct Net(16 -> 10) {
        dense(32), relu,
        repeat(3) { dense(64), relu },
        dense(10),
    }
}

fn main() {}
