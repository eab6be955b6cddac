nn::network! {
    struct Net(seq 4 -> 2) {
        lstm(8, recurrent_init = orthogonal(gain = 0)), last,
        dense(2, init = orthogonal(gain = -1.5)),
    }
}

fn main() {}
