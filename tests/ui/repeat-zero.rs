nn::network! {
    struct Net(16 -> 10) {
        dense(32), relu,
        repeat(0) { dense(32), relu },
        dense(10),
    }
}

fn main() {}
