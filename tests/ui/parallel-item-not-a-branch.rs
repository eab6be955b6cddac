nn::network! {
    struct Net(16 -> 10) {
        parallel { branch { dense(4) }, dense(6) },
        dense(10),
    }
}

fn main() {}
