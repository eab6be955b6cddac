nn::network! {
    struct Net(16 -> 10) {}
}

fn main() {}
