nn::network! {
    struct Lm(tokens 28 -> seq 28) {
        embedding(16),
        embedding(16),
        lstm(64),
        dense(28),
    }
}

nn::network! {
    struct Tagger(seq 8 -> seq 3) {
        embedding(16),
        lstm(64),
        dense(3),
    }
}

fn main() {}
