nn::network! {
    struct Adder(seq 2 -> 1) {
        lstm(16),
        dense(1),
    }
}

fn main() {}
