"""Reference values of every activation of nn, from PyTorch (float64).

Writes nn-runtime/tests/data/activations.txt, read by the tests of
nn-runtime/src/layers/activation.rs (inside the crate, so its packaged tests build).
Each line: `name x f(x) f'(x)`, floats in Python's shortest round-trip repr.
Rerun: /work/main/.venv/bin/python tools/reference/activations.py
"""

import pathlib

import torch
import torch.nn.functional as F

# Every piece of every function: the kinks of relu6 (0, 6) and of hardsigmoid
# and hardswish (-3, 3), either side of them, and the far tails. Nothing
# between 4 and 20: there tanh' = 1 - tanh^2 keeps few digits, in PyTorch as
# here, and the table would compare rounding instead of formulas.
XS = [-1000.0, -20.0, -4.0, -3.0, -2.5, -0.5, -1e-8, 0.0, 1e-8, 0.5, 2.5, 3.0, 4.0, 6.0, 20.0, 25.0, 1000.0]


def hardsigmoid(x):
    """PyTorch's definition, relu6(x + 3) / 6. F.hardsigmoid has the same
    values, but its backward multiplies by 1/6 rounded to float32 even in
    float64 (0.1666666716...), which main() checks and this avoids."""
    return F.relu6(x + 3.0) / 6.0


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
    "relu6": F.relu6,
    "hardsigmoid": hardsigmoid,
    "hardswish": F.hardswish,
    "softsign": F.softsign,
}


def check_hardsigmoid():
    x = torch.tensor(XS, dtype=torch.float64, requires_grad=True)
    y = F.hardsigmoid(x)
    (dy,) = torch.autograd.grad(y.sum(), x)
    z = hardsigmoid(x)
    (dz,) = torch.autograd.grad(z.sum(), x)
    assert torch.equal(y, z), (y, z)
    assert torch.allclose(dy, dz, rtol=1e-7, atol=0), (dy, dz)


def main():
    check_hardsigmoid()
    lines = []
    for name, f in ACTIVATIONS.items():
        x = torch.tensor(XS, dtype=torch.float64, requires_grad=True)
        y = f(x)
        (dy,) = torch.autograd.grad(y.sum(), x)
        for xi, yi, di in zip(XS, y.tolist(), dy.tolist()):
            lines.append(f"{name} {xi!r} {yi!r} {di!r}")
    root = pathlib.Path(__file__).resolve().parents[2]
    out = root / "nn-runtime" / "tests" / "data" / "activations.txt"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} lines to {out}")


if __name__ == "__main__":
    main()
