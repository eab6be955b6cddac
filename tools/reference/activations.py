"""Reference values of every activation of nn, from PyTorch (float64).

Writes nn-runtime/tests/data/activations.txt, read by nn-runtime/src/layers/activation.rs tests
(inside the crate they test, so its packaged tests build).
Each line: `name x f(x) f'(x)`, floats in Python's shortest round-trip repr.
Rerun: /work/main/.venv/bin/python tools/reference/activations.py
"""

import pathlib

import torch
import torch.nn.functional as F

XS = [-1000.0, -20.0, -3.0, -0.5, -1e-8, 0.0, 1e-8, 0.5, 3.0, 20.0, 25.0, 1000.0]

ACTIVATIONS = {
    "identity": lambda x: x,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": lambda x: F.leaky_relu(x, negative_slope=0.01),
    "elu": lambda x: F.elu(x, alpha=1.0),
    "selu": F.selu,
    "gelu": lambda x: F.gelu(x, approximate="none"),
    "swish": F.silu,
    "mish": F.mish,
    "softplus": lambda x: F.softplus(x, beta=1.0, threshold=20.0),
}


def main():
    lines = []
    for name, f in ACTIVATIONS.items():
        x = torch.tensor(XS, dtype=torch.float64, requires_grad=True)
        y = f(x)
        (dy,) = torch.autograd.grad(y.sum(), x)
        for xi, yi, di in zip(XS, y.tolist(), dy.tolist()):
            lines.append(f"{name} {xi!r} {yi!r} {di!r}")
    out = pathlib.Path(__file__).resolve().parents[2] / "nn-runtime" / "tests" / "data" / "activations.txt"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} lines to {out}")


if __name__ == "__main__":
    main()
