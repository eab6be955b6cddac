"""Reference learning rates of torch.optim.lr_scheduler.ReduceLROnPlateau for
nn-runtime's ReduceLrOnPlateau test.

Each case feeds a fixed sequence of metric values to the scheduler of an SGD
optimizer and records, after every step, the learning rate and the
scheduler's best value, bad-epoch count and cooldown counter. Written to
nn-runtime/tests/data/plateau.json, which the Rust test reads.

Rerun: python tools/reference/plateau.py  (needs torch; nothing random is used)
"""

import json
import math
from pathlib import Path

import torch

# Falls, plateaus (exact repeats and changes smaller than the thresholds),
# a rise and new falls: every branch of step() is taken by some case.
LOSSES = [
    1.0, 0.9, 0.85, 0.8499, 0.8498, 0.8497, 0.8496, 0.7, 0.7, 0.7,
    0.71, 0.72, 0.69, 0.6899, 0.6899, 0.6899, 0.6899, 0.6899, 0.5, 0.5,
    0.5, 0.5, 0.5, 0.5, 0.5, 0.49999, 0.4, 0.4, 0.4, 0.4,
]
ACCURACIES = [
    0.3, 0.5, 0.6, 0.61, 0.615, 0.62, 0.62, 0.7, 0.69, 0.7,
    0.705, 0.71, 0.8, 0.8, 0.8, 0.8, 0.8, 0.85, 0.85, 0.85,
]

CASES = [
    # Patience 10: the long plateau at the end lowers the rate once.
    {"name": "defaults", "values": LOSSES + [0.4] * 12, "lr": 0.1, "args": {}},
    {
        "name": "min_rel_patience_2",
        "values": LOSSES,
        "lr": 0.1,
        "args": {"mode": "min", "factor": 0.5, "patience": 2, "threshold": 0.01, "threshold_mode": "rel"},
    },
    {
        "name": "min_abs_cooldown",
        "values": LOSSES,
        "lr": 1.0,
        "args": {"mode": "min", "factor": 0.3, "patience": 1, "threshold": 1e-3, "threshold_mode": "abs",
                 "cooldown": 2, "min_lr": 0.05},
    },
    {
        "name": "max_rel",
        "values": ACCURACIES,
        "lr": 0.01,
        "args": {"mode": "max", "factor": 0.5, "patience": 1, "threshold": 0.01, "threshold_mode": "rel",
                 "cooldown": 1},
    },
    {
        "name": "max_abs_eps",
        "values": ACCURACIES,
        "lr": 1e-7,
        # Reductions smaller than eps are skipped: 1e-7 -> 7e-8 -> 4.9e-8, then
        # 4.9e-8 - 3.43e-8 < 2e-8 and the rate stays.
        "args": {"mode": "max", "factor": 0.7, "patience": 0, "threshold": 0.004, "threshold_mode": "abs",
                 "eps": 2e-8},
    },
]


def run(case):
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    sgd = torch.optim.SGD([param], lr=case["lr"])
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(sgd, **case["args"])
    steps = []
    for value in case["values"]:
        scheduler.step(value)
        best = scheduler.best
        steps.append({
            "lr": sgd.param_groups[0]["lr"],
            "best": best if math.isfinite(best) else None,
            "num_bad_epochs": scheduler.num_bad_epochs,
            "cooldown_counter": scheduler.cooldown_counter,
        })
    return {**case, "steps": steps}


def main():
    out = Path(__file__).resolve().parents[2] / "nn-runtime" / "tests" / "data" / "plateau.json"
    cases = [run(c) for c in CASES]
    out.write_text(json.dumps({"torch": torch.__version__, "cases": cases}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
