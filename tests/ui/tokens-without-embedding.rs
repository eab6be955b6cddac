nn::network! {
    struct Lm(tokens 28 -> seq 28) {
        lstm(64),
        dense(28),
    }
}

fn main() {}
