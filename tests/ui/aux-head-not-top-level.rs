nn::network! {
    struct Net(16 -> 10) {
        dense(32), relu,
        repeat(2) { aux_head(weight = 0.3) { dense(10) }, dense(32), relu },
        dense(10),
    }
}

fn main() {}
