nn::network! {
    pub struct Net(4 -> 2) { dense(8), relu, dense(2) }
    pub struct Other(4 -> 2) { dense(2) }
    pub struct Net(4 -> 2) { dense(2) }
}

fn main() {
    let mut net = Net::<f64>::seeded(0);
    let _ = net.forward(&nn::Batch::<f64, 4>::zeros(1));
}
