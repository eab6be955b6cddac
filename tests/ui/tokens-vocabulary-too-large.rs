nn::network! {
    struct Lm(tokens 20000000 -> seq 4) {
        embedding(8),
        lstm(8),
        dense(4),
    }
}

fn main() {}
