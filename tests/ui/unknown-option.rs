nn::network! {
    struct Net(4 -> 2) {
        dense(8, biass = false), relu,
        dense(2),
    }
}

fn main() {}
