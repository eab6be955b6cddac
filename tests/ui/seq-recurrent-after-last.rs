nn::network! {
    struct Adder(seq 2 -> 1) {
        lstm(16),
        last,
        gru(8),
        dense(1),
    }
}

fn main() {}
