nn::network! {
    struct Net(4 -> 2) {
        dense(8), batch_norm(eps = 1e-3, eps = 1e-5), relu,
        dense(2),
    }
}

fn main() {}
