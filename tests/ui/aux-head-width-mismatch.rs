nn::network! {
    struct Net(16 -> 10) {
        dense(32), relu,
        aux_head(weight = 0.3) { dense(5) },
        dense(10),
    }
}

fn main() {}
