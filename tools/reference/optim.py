"""Reference trajectories of torch.optim for nn-runtime's optimizer tests.

A fixed network, Linear(4, 3) -> tanh -> Linear(3, 2), with the weights below,
is trained for 20 steps on a fixed batch with cross-entropy, in float64, by each
optimizer variant, schedule and clipping mode. The parameters after every step
(flattened in state_dict order: 0.weight, 0.bias, 2.weight, 2.bias) are written
to nn-runtime/tests/data/optim.json, which the Rust tests read.

Rerun: python tools/reference/optim.py  (needs torch; nothing random is used)
"""

import json
import math
from pathlib import Path

import torch

torch.set_default_dtype(torch.float64)

W0 = [[0.5, -0.3, 0.8, 0.1], [-0.6, 0.2, 0.4, -0.7], [0.3, 0.9, -0.5, 0.2]]
B0 = [0.1, -0.2, 0.05]
W2 = [[0.7, -0.4, 0.6], [-0.5, 0.8, -0.3]]
B2 = [0.02, -0.03]
INPUTS = [
    [1.0, -0.5, 0.3, 2.0],
    [-1.2, 0.7, 1.5, -0.3],
    [0.4, 0.4, -0.9, 0.8],
    [2.1, -1.3, 0.0, -0.6],
    [-0.2, 1.8, 0.6, 1.1],
]
CLASSES = [0, 1, 1, 0, 1]
STEPS = 20


def network():
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor(W0))
        net[0].bias.copy_(torch.tensor(B0))
        net[2].weight.copy_(torch.tensor(W2))
        net[2].bias.copy_(torch.tensor(B2))
    return net


def weights_only_groups(net, weight_decay):
    """Weight decay on weights, none on biases."""
    weights = [p for n, p in net.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in net.named_parameters() if n.endswith("bias")]
    return [{"params": weights, "weight_decay": weight_decay}, {"params": biases, "weight_decay": 0.0}]


O = torch.optim
S = O.lr_scheduler
CASES = {
    "sgd": (lambda n: O.SGD(n.parameters(), lr=0.1), None, None),
    "sgd_momentum": (lambda n: O.SGD(n.parameters(), lr=0.1, momentum=0.9), None, None),
    "sgd_nesterov": (lambda n: O.SGD(n.parameters(), lr=0.1, momentum=0.9, nesterov=True), None, None),
    "sgd_weight_decay": (lambda n: O.SGD(n.parameters(), lr=0.1, momentum=0.9, weight_decay=0.05), None, None),
    "sgd_weight_decay_weights_only": (
        lambda n: O.SGD(weights_only_groups(n, 0.05), lr=0.1, momentum=0.9),
        None,
        None,
    ),
    "adam": (lambda n: O.Adam(n.parameters(), lr=0.01), None, None),
    "adam_betas_eps": (lambda n: O.Adam(n.parameters(), lr=0.02, betas=(0.8, 0.99), eps=1e-6), None, None),
    "adam_weight_decay": (lambda n: O.Adam(n.parameters(), lr=0.01, weight_decay=0.1), None, None),
    "adamw": (lambda n: O.AdamW(n.parameters(), lr=0.01), None, None),
    "adamw_weight_decay_weights_only": (lambda n: O.AdamW(weights_only_groups(n, 0.1), lr=0.01), None, None),
    "rmsprop": (lambda n: O.RMSprop(n.parameters(), lr=0.01), None, None),
    "rmsprop_momentum": (lambda n: O.RMSprop(n.parameters(), lr=0.01, momentum=0.9, weight_decay=0.01), None, None),
    "schedule_step": (
        lambda n: O.SGD(n.parameters(), lr=0.1, momentum=0.9),
        lambda o: S.StepLR(o, step_size=5, gamma=0.5),
        None,
    ),
    "schedule_cosine": (
        lambda n: O.SGD(n.parameters(), lr=0.1, momentum=0.9),
        lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
        None,
    ),
    "schedule_warmup": (
        lambda n: O.Adam(n.parameters(), lr=0.01),
        lambda o: S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=5),
        None,
    ),
    "schedule_warmup_cosine": (
        lambda n: O.Adam(n.parameters(), lr=0.01),
        lambda o: S.SequentialLR(
            o,
            [S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=5), S.CosineAnnealingLR(o, T_max=15)],
            milestones=[5],
        ),
        None,
    ),
    "clip_value": (lambda n: O.SGD(n.parameters(), lr=0.5), None, ("value", 0.05)),
    "clip_norm": (lambda n: O.SGD(n.parameters(), lr=0.5), None, ("norm", 0.1)),
}


def flat(net):
    return [v for t in net.state_dict().values() for v in t.flatten().tolist()]


def run(make_opt, make_sched, clip):
    torch.manual_seed(0)
    net = network()
    opt = make_opt(net)
    sched = make_sched(opt) if make_sched else None
    x = torch.tensor(INPUTS)
    y = torch.tensor(CLASSES)
    params, lrs, norms = [], [], []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        if clip is not None:
            kind, c = clip
            if kind == "value":
                norms.append(math.sqrt(sum(float((p.grad**2).sum()) for p in net.parameters())))
                torch.nn.utils.clip_grad_value_(net.parameters(), c)
            else:
                norms.append(float(torch.nn.utils.clip_grad_norm_(net.parameters(), c)))
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched:
            sched.step()
        params.append(flat(net))
    return {"lrs": lrs, "norms": norms, "params": params}


def main():
    out = {
        "torch": torch.__version__.split("+")[0],
        "network": {"0.weight": W0, "0.bias": B0, "2.weight": W2, "2.bias": B2},
        "inputs": INPUTS,
        "classes": CLASSES,
        "initial": flat(network()),
        "cases": {name: run(*spec) for name, spec in CASES.items()},
    }
    path = Path(__file__).resolve().parents[2] / "nn-runtime" / "tests" / "data" / "optim.json"
    path.write_text(json.dumps(out) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
