nn::network! {
    struct Tagger(seq 8 -> seq 3) {
        lstm(16),
        last,
        dense(3),
    }
}

fn main() {}
