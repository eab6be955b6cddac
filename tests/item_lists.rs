//! How the runtime's generic item lists chain and number what `network!`
//! hands them: a long flat list (which the generator splits into runs so the
//! compiler can prove its type), an auxiliary head as the last item, and
//! `seq` networks whose `last` stands first or last.

use nn::nalgebra::DMatrix;
use nn::prelude::*;
use nn::testing::{grad_check, grad_check_at};
use nn::ItemKind;

/// `dense(6), tanh` thirty times: 60 items, then the output layer.
macro_rules! long {
    ($name:ident, [$($x:tt)*]) => { long!(@ $name, [$($x)*], {}); };
    (@ $name:ident, [$x:tt $($rest:tt)*], {$($acc:tt)*}) => { long!(@ $name, [$($rest)*], {$($acc)* dense(6), tanh,}); };
    (@ $name:ident, [], {$($acc:tt)*}) => {
        nn::network! { pub struct $name(3 -> 2) { $($acc)* dense(2) } }
    };
}

long!(Long, [x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x]);

nn::network! {
    /// The main path ends in an auxiliary head.
    pub struct HeadLast(3 -> 2) { dense(2), aux_head(weight = 0.5) { dense(2) } }

    /// `last` first: the last step of the raw input.
    pub struct LastFirst(seq 3 -> 2) { last, dense(2) }

    /// `last` last: the network's output is the recurrent layer's last step.
    pub struct LastLast(seq 3 -> 2) { gru(2), last }
}

#[test]
fn a_long_list_numbers_every_item_in_order() {
    let net = Long::<f64>::seeded(1);
    let names: Vec<String> = net.parameters().into_iter().map(|p| p.name).collect();
    let expected: Vec<String> =
        (0..=30).flat_map(|k| [format!("{}.weight", 2 * k), format!("{}.bias", 2 * k)]).collect();
    assert_eq!(names, expected);
    let mut net = net;
    net.forward(&Batch::<f64, 3>::from_element(2, 0.5));
    let mut seen = Vec::new();
    net.probe(&mut |p| seen.push((p.index, p.kind)));
    let kinds: Vec<(usize, ItemKind)> =
        (0..61).map(|k| (k, if k % 2 == 0 { ItemKind::Dense } else { ItemKind::Tanh })).collect();
    assert_eq!(seen, kinds);
    assert!(net.summary().lines().any(|l| l.starts_with("60 ") && l.contains("dense(2)")));
}

#[test]
fn a_long_list_backpropagates_through_every_item() {
    let mut net = Long::<f64>::seeded(2);
    let report = grad_check(&mut net, 3, 4);
    assert_eq!(report.tensors.len(), 62);
    report.assert_below(1e-6);
}

#[test]
fn an_auxiliary_head_as_the_last_item_is_found() {
    let mut net = HeadLast::<f64>::seeded(5);
    assert_eq!(net.aux_heads(), 1);
    let report = grad_check(&mut net, 4, 6);
    assert_eq!(report.tensors, ["0.weight", "0.bias", "1.0.weight", "1.0.bias"]);
    report.assert_below(1e-6);
    let (weight, out) = net.aux_output(0).unwrap();
    assert_eq!((weight, out.shape()), (0.5, (2, 4)));
    assert!(net.aux_output(1).is_none());
}

#[test]
fn seq_networks_may_start_or_end_with_last() {
    let x = DMatrix::from_fn(3 * 4, 2, |i, j| (i as f64 * 0.7 - j as f64).sin());
    let mut first = LastFirst::<f64>::seeded(7);
    let report = grad_check_at(&mut first, &x, 8);
    assert_eq!(report.tensors, ["1.weight", "1.bias"]);
    report.assert_below(1e-6);
    // Only the last step reaches the output.
    let xs: Vec<Batch<f64, 3>> = (0..4).map(|t| Batch::from_element(2, t as f64)).collect();
    let mut changed = xs.clone();
    changed[0] = Batch::from_element(2, 9.0);
    assert_eq!(first.predict(&xs), first.predict(&changed));

    let mut end = LastLast::<f64>::seeded(9);
    let report = grad_check_at(&mut end, &x, 10);
    assert_eq!(report.tensors, ["0.weight_ih", "0.weight_hh", "0.bias_ih", "0.bias_hh"]);
    report.assert_below(1e-6);
    let mut seen = Vec::new();
    end.forward(&xs);
    end.probe(&mut |p| seen.push((p.index, p.kind, p.output.map(|o| o.shape()))));
    assert_eq!(seen, [(0, ItemKind::Gru, Some((2, 8))), (1, ItemKind::Last, Some((2, 2)))]);
}
