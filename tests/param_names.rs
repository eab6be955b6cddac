//! Parameter and buffer names of a network using every block kind, written
//! by hand from DESIGN.md's rules (PyTorch `state_dict` of the equivalent
//! `nn.Sequential` nesting): top-level items numbered from 0, `{block}.{i}`
//! inside a body, `{repeat}.{copy}.{i}`, `{parallel}.{branch}.{i}`, and the
//! block-owned `projection.weight`, `gate.weight`, `gate.bias`.

use nn::{Model, NamedBuffer};

nn::network! {
    pub struct EveryBlock(4 -> 3) {
        dense(6), relu,                                                     // 0, 1
        residual { dense(6), batch_norm },                                  // 2
        residual(projection) { dense(5) },                                  // 3
        highway { dense(5), tanh },                                         // 4
        concat { dense(2), prelu },                                         // 5: 5 -> 7
        parallel { branch { dense(3) }, branch { layer_norm, dense(2) } }, // 6: 7 -> 5
        aux_head(weight = 0.5) { dense(3) },                                // 7
        repeat(2) { dense(5), relu },                                       // 8
        dropout(0.1),                                                       // 9
        dense(3),                                                           // 10
    }
}

#[test]
fn parameter_names_and_shapes_follow_pytorch_state_dict() {
    let net = EveryBlock::<f32>::seeded(0);
    let params: Vec<(String, Vec<usize>)> = net.parameters().into_iter().map(|p| (p.name, p.shape)).collect();
    let expected: Vec<(&str, Vec<usize>)> = vec![
        ("0.weight", vec![6, 4]),
        ("0.bias", vec![6]),
        ("2.0.weight", vec![6, 6]),
        ("2.0.bias", vec![6]),
        ("2.1.weight", vec![6]),
        ("2.1.bias", vec![6]),
        ("3.0.weight", vec![5, 6]),
        ("3.0.bias", vec![5]),
        ("3.projection.weight", vec![5, 6]),
        ("4.0.weight", vec![5, 5]),
        ("4.0.bias", vec![5]),
        ("4.gate.weight", vec![5, 5]),
        ("4.gate.bias", vec![5]),
        ("5.0.weight", vec![2, 5]),
        ("5.0.bias", vec![2]),
        ("5.1.weight", vec![2]),
        ("6.0.0.weight", vec![3, 7]),
        ("6.0.0.bias", vec![3]),
        ("6.1.0.weight", vec![7]),
        ("6.1.0.bias", vec![7]),
        ("6.1.1.weight", vec![2, 7]),
        ("6.1.1.bias", vec![2]),
        ("7.0.weight", vec![3, 5]),
        ("7.0.bias", vec![3]),
        ("8.0.0.weight", vec![5, 5]),
        ("8.0.0.bias", vec![5]),
        ("8.1.0.weight", vec![5, 5]),
        ("8.1.0.bias", vec![5]),
        ("10.weight", vec![3, 5]),
        ("10.bias", vec![3]),
    ];
    let expected: Vec<(String, Vec<usize>)> = expected.into_iter().map(|(n, s)| (n.to_string(), s)).collect();
    assert_eq!(params, expected);
}

#[test]
fn buffer_names_follow_pytorch_state_dict() {
    let net = EveryBlock::<f32>::seeded(0);
    let names: Vec<String> = net.buffers().iter().map(|b| b.name().to_string()).collect();
    assert_eq!(names, ["2.1.running_mean", "2.1.running_var", "2.1.num_batches_tracked"]);
    assert!(matches!(&net.buffers()[2], NamedBuffer::Count { value: 0, .. }));
}

#[test]
fn summary_lists_every_item_under_its_parameter_prefix() {
    let net = EveryBlock::<f32>::seeded(0);
    let summary = net.summary();
    let first_column: Vec<&str> = summary
        .lines()
        .skip(3)
        .take_while(|l| !l.starts_with('-'))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        first_column,
        [
            "0", "1", "2", "2.0", "2.1", "3", "3.0", "4", "4.0", "4.1", "5", "5.0", "5.1", "6", "6.0.0", "6.1.0",
            "6.1.1", "7", "7.0", "8", "8.0.0", "8.0.1", "8.1.0", "8.1.1", "9", "10",
        ]
    );
    let total: usize = net.parameters().iter().map(|p| p.value.len()).sum();
    assert_eq!(net.parameter_count(), total);
    // The running mean and variance of `2.1`, a batch_norm on 6 features, are not trained.
    let running: usize = net
        .buffers()
        .iter()
        .map(|b| match b {
            NamedBuffer::Float { value, .. } => value.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(running, 12);
    let totals = format!(
        "trainable parameters: {total}\nnon-trainable parameters: {running} (running statistics)\n\
         total parameters: {}\n",
        total + running
    );
    assert!(summary.ends_with(&totals), "{summary}");
}

#[test]
fn probe_shows_every_item_under_the_prefix_of_its_parameters() {
    let mut net = EveryBlock::<f64>::seeded(0);
    let x = nn::nalgebra::DMatrix::<f64>::from_fn(4, 3, |i, j| (i as f64 - j as f64) * 0.3);
    net.forward_view(x.as_view()).unwrap();
    net.backward_view(nn::nalgebra::DMatrix::<f64>::from_element(3, 3, 0.1).as_view()).unwrap();
    let mut probed = Vec::new();
    net.probe(&mut |p| probed.push((p.index, p.path.to_string(), p.kind.to_string())));
    let summary = net.summary();
    let rows: Vec<(String, String)> = summary
        .lines()
        .skip(3)
        .take_while(|l| !l.starts_with('-'))
        .map(|l| {
            let mut words = l.split_whitespace();
            let name = words.next().unwrap().to_string();
            let kind = words.next().unwrap().split('(').next().unwrap().to_string();
            (name, kind)
        })
        .collect();
    let seen: Vec<(String, String)> = probed.iter().map(|(_, path, kind)| (path.clone(), kind.clone())).collect();
    assert_eq!(seen, rows);
    assert!(probed.iter().all(|(index, path, _)| path.split('.').next() == Some(index.to_string().as_str())));
    // Every parameter belongs to a probed item: its name is an item's path and one more part.
    for p in net.parameters() {
        let (owner, _) = p.name.rsplit_once('.').unwrap();
        let owner = owner.trim_end_matches(".projection").trim_end_matches(".gate");
        assert!(probed.iter().any(|(_, path, _)| path == owner), "{} has no item", p.name);
    }
}
