nn::network! {
    struct Classifier(seq 8 -> 4) {
        lstm(16),
        last,
        aux_head(weight = 0.3) { dense(4) },
        dense(4),
    }
}

fn main() {}
