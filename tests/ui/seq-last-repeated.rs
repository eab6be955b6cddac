nn::network! {
    struct Adder(seq 2 -> 1) {
        lstm(16),
        last,
        dense(8),
        last,
        dense(1),
    }
}

fn main() {}
