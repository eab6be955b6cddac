"""Reference values of PyTorch's losses for nn-runtime's loss tests.

Fixed logits (including logits of magnitude 1000) and targets; for each loss
the mean value (reduction="mean") and its gradient with respect to the
outputs, in float64, written to nn-runtime/tests/data/losses.json.
Arrays are [samples][outputs], as PyTorch lays out a batch.

Rerun: python tools/reference/losses.py  (needs torch; nothing random is used)
"""

import json
from pathlib import Path

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

LOGITS = [
    [0.5, -1.2, 2.0, 0.1],
    [0.0, 0.3, -0.7, 1.9],
    [1.5, 1.5, -2.0, -0.4],
    [-0.1, 0.25, 3.0, 0.0],
]
HUGE = [
    [1000.0, -1000.0, 999.0, 0.0],
    [-1000.0, 1000.0, 0.0, 998.5],
    [1000.0, 1000.0, 1000.0, 1000.0],
    [-1000.0, -999.0, -1000.0, -1000.0],
]
CLASSES = [2, 0, 1, 3]
REAL = [
    [0.0, 1.0, 0.2, 0.9],
    [1.0, 0.0, 0.5, 0.3],
    [0.7, 0.1, 0.0, 1.0],
    [0.25, 0.75, 1.0, 0.0],
]


def case(loss, name, logits, targets):
    y = torch.tensor(logits, requires_grad=True)
    if loss == "SoftmaxCrossEntropy":
        value = F.cross_entropy(y, torch.tensor(targets))
    elif loss == "Mse":
        value = F.mse_loss(y, torch.tensor(targets))
    else:
        value = F.binary_cross_entropy_with_logits(y, torch.tensor(targets))
    value.backward()
    return {"name": name, "loss": loss, "outputs": logits, "targets": targets,
            "value": value.item(), "grad": y.grad.tolist()}


def main():
    cases = []
    for label, logits in [("moderate", LOGITS), ("magnitude_1000", HUGE)]:
        cases.append(case("SoftmaxCrossEntropy", label, logits, CLASSES))
        cases.append(case("Mse", label, logits, REAL))
        cases.append(case("BinaryCrossEntropyWithLogits", label, logits, REAL))
    out = {"torch": torch.__version__.split("+")[0], "cases": cases}
    path = Path(__file__).resolve().parents[2] / "nn-runtime" / "tests" / "data" / "losses.json"
    path.write_text(json.dumps(out) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
