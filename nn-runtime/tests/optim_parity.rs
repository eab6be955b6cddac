//! Optimizers, schedules and clipping against torch.optim: 20 steps on the
//! network and batch of `tools/reference/optim.py`, in f64; every parameter
//! after every step within a relative difference of 1e-5.

mod common;

use common::{flat_params, Mlp};
use nalgebra::DMatrix;
use nn_runtime::layers::Tanh;
use nn_runtime::optim::{Adam, AdamW, Optimizer, RmsProp, Schedule, Scheduler, Sgd};
use nn_runtime::testing::LayerModel;
use nn_runtime::{Clip, Loss, Model, Targets};
use serde_json::Value;

type Net = LayerModel<f64, Mlp<f64, Tanh, 4, 3, 2>, 4, 2>;

fn reference() -> Value {
    serde_json::from_str(include_str!("data/optim.json")).expect("optim.json parses")
}

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        other => vec![other.as_f64().expect("a number")],
    }
}

/// The network with the script's weights (row-major, as PyTorch's).
fn network(r: &Value) -> Net {
    let mut net: Net = LayerModel::new(Mlp::seeded(0));
    let n = &r["network"];
    net.layer.first.weight_mut().copy_from_slice(&floats(&n["0.weight"]));
    net.layer.first.bias_mut().unwrap().copy_from_slice(&floats(&n["0.bias"]));
    net.layer.second.weight_mut().copy_from_slice(&floats(&n["2.weight"]));
    net.layer.second.bias_mut().unwrap().copy_from_slice(&floats(&n["2.bias"]));
    net
}

fn optimizer(name: &str) -> (Box<dyn Optimizer<f64>>, Option<Schedule>, Option<Clip>) {
    let sgd_momentum = || Box::new(Sgd::new(0.1).momentum(0.9));
    match name {
        "sgd" => (Box::new(Sgd::new(0.1)), None, None),
        "sgd_momentum" => (sgd_momentum(), None, None),
        "sgd_nesterov" => (Box::new(Sgd::new(0.1).momentum(0.9).nesterov(true)), None, None),
        "sgd_weight_decay" => (Box::new(Sgd::new(0.1).momentum(0.9).weight_decay(0.05)), None, None),
        "sgd_weight_decay_weights_only" => {
            (Box::new(Sgd::new(0.1).momentum(0.9).weight_decay(0.05).decay_weights_only(true)), None, None)
        }
        "adam" => (Box::new(Adam::new(0.01)), None, None),
        "adam_betas_eps" => (Box::new(Adam::new(0.02).betas(0.8, 0.99).eps(1e-6)), None, None),
        "adam_weight_decay" => (Box::new(Adam::new(0.01).weight_decay(0.1)), None, None),
        "adamw" => (Box::new(AdamW::new(0.01)), None, None),
        "adamw_weight_decay_weights_only" => {
            (Box::new(AdamW::new(0.01).weight_decay(0.1).decay_weights_only(true)), None, None)
        }
        "rmsprop" => (Box::new(RmsProp::new(0.01)), None, None),
        "rmsprop_momentum" => (Box::new(RmsProp::new(0.01).momentum(0.9).weight_decay(0.01)), None, None),
        "schedule_step" => (sgd_momentum(), Some(Schedule::Step { step_size: 5, gamma: 0.5 }), None),
        "schedule_cosine" => (sgd_momentum(), Some(Schedule::Cosine { t_max: 10, eta_min: 0.001 }), None),
        "schedule_warmup" => {
            (Box::new(Adam::new(0.01)), Some(Schedule::LinearWarmup { start_factor: 0.1, steps: 5 }), None)
        }
        "schedule_warmup_cosine" => (
            Box::new(Adam::new(0.01)),
            Some(
                Schedule::LinearWarmup { start_factor: 0.1, steps: 5 }
                    .then(5, Schedule::Cosine { t_max: 15, eta_min: 0.0 }),
            ),
            None,
        ),
        "clip_value" => (Box::new(Sgd::new(0.5)), None, Some(Clip::Value(0.05))),
        "clip_norm" => (Box::new(Sgd::new(0.5)), None, Some(Clip::GlobalNorm(0.1))),
        other => panic!("no Rust counterpart for reference case {other}"),
    }
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

#[test]
fn every_optimizer_schedule_and_clip_mode_follows_torch_for_20_steps() {
    let r = reference();
    let x = DMatrix::from_fn(4, 5, |i, j| r["inputs"][j][i].as_f64().unwrap());
    let classes: Vec<usize> = floats(&r["classes"]).into_iter().map(|c| c as usize).collect();
    let cases = r["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 18, "every reference case is checked");
    assert_eq!(flat_params(&network(&r)), floats(&r["initial"]));
    for (name, case) in cases {
        let (mut opt, schedule, clip) = optimizer(name);
        let mut scheduler = schedule.map(Scheduler::new);
        if let Some(s) = &mut scheduler {
            s.start(&mut *opt);
        }
        let mut net = network(&r);
        let mut grad = DMatrix::zeros(2, 5);
        let mut worst: f64 = 0.0;
        let steps = case["params"].as_array().unwrap();
        assert_eq!(steps.len(), 20);
        for (k, expected) in steps.iter().enumerate() {
            net.zero_grad();
            let y = net.forward_view(x.as_view()).unwrap();
            Loss::SoftmaxCrossEntropy.value_and_grad(y, Targets::Classes(&classes), grad.as_view_mut()).unwrap();
            net.backward_view(grad.as_view()).unwrap();
            if let Some(c) = clip {
                let norm = c.apply(&mut net);
                let torch_norm = case["norms"][k].as_f64().unwrap();
                assert!(rel(norm, torch_norm) < 1e-9, "{name} step {}: norm {norm} vs torch {torch_norm}", k + 1);
            }
            let torch_lr = case["lrs"][k].as_f64().unwrap();
            assert!(rel(opt.lr(), torch_lr) < 1e-12, "{name} step {}: lr {} vs torch {torch_lr}", k + 1, opt.lr());
            opt.step_with(&mut |v| net.visit_mut(v));
            if let Some(s) = &mut scheduler {
                s.step(&mut *opt);
            }
            for (a, b) in flat_params(&net).iter().zip(floats(expected)) {
                worst = worst.max(rel(*a, b));
            }
        }
        assert!(worst < 1e-5, "{name}: max relative difference {worst:e} from torch");
    }
}

#[test]
fn optimizers_move_parameters_differently_from_each_other() {
    // Guards the parity test against cases that would pass trivially.
    let r = reference();
    let last = |name: &str| floats(&r["cases"][name]["params"][19]);
    let initial = floats(&r["initial"]);
    let names = ["sgd", "sgd_momentum", "sgd_nesterov", "adam", "adamw", "rmsprop", "rmsprop_momentum", "clip_norm"];
    for (i, a) in names.iter().enumerate() {
        assert!(last(a).iter().zip(&initial).any(|(p, q)| (p - q).abs() > 1e-3), "{a} barely moved");
        for b in &names[i + 1..] {
            assert!(last(a).iter().zip(last(b)).any(|(p, q)| (p - q).abs() > 1e-6), "{a} and {b} coincide");
        }
    }
}
