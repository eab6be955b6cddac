// The macro works in a function body, with nothing imported but `nn`.
fn main() {
    nn::network! {
        struct Local(3 -> 1) { dense(4), relu, dense(1) }
    }
    let mut net = Local::seeded(3);
    let x = nn::Batch::<f32, 3>::from_element(2, 0.5);
    let y = net.forward(&x);
    let dx = net.backward(&y);
    assert_eq!(dx.ncols(), 2);
}
