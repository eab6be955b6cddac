nn::network! {
    struct Net(16 -> 10) {
        dense(32), relu,
        residual {},
        dense(10),
    }
}

fn main() {}
