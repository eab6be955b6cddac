"""Reference values of batch_norm (train and eval) and layer_norm, from PyTorch (float64).

Writes nn-runtime/tests/data/norm.txt, read by the tests of nn-runtime/src/layers/{batch_norm,layer_norm}.rs
(inside the crate they test, so its packaged tests build).
Each line: `key v0 v1 ...`, a tensor flattened row-major. A batch of shape
(batch, features) flattened row-major is nn's column-major (features, batch).
Rerun: /work/main/.venv/bin/python tools/reference/norm.py
"""

import pathlib

import torch

torch.set_default_dtype(torch.float64)

# Three features: huge spread, a spread far below eps, and ordinary values.
X1 = [
    [-1000.0, -1e-8, 0.5],
    [-20.0, 0.0, 3.0],
    [0.0, 1e-8, -3.0],
    [20.0, 2e-8, 0.5],
    [1000.0, 5e-9, 1.0],
]
X2 = [[1.0, -2.0, 0.25], [3.0, 4.0, -0.75]]
X_EVAL = [[0.5, -1e-8, 20.0], [-3.0, 1000.0, 0.0]]
WEIGHT = [1.5, -0.5, 2.0]
BIAS = [0.1, 0.2, -0.3]


def flat(t):
    return " ".join(repr(v) for v in t.detach().reshape(-1).tolist())


def main():
    lines = []

    def put(key, t):
        lines.append(f"{key} {flat(t)}")

    bn = torch.nn.BatchNorm1d(3, momentum=0.1, eps=1e-5)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(WEIGHT))
        bn.bias.copy_(torch.tensor(BIAS))
    bn.train()
    for key, x in [("bn.x1", X1), ("bn.x2", X2)]:
        x = torch.tensor(x)
        put(key, x)
        put(key.replace("x", "y"), bn(x))
        put(key.replace("x", "running_mean"), bn.running_mean)
        put(key.replace("x", "running_var"), bn.running_var)
        lines.append(f"{key.replace('x', 'num_batches_tracked')} {bn.num_batches_tracked.item()}")
    bn.eval()
    put("bn.x_eval", torch.tensor(X_EVAL))
    put("bn.y_eval", bn(torch.tensor(X_EVAL)))

    ln = torch.nn.LayerNorm(3, eps=1e-5)
    with torch.no_grad():
        ln.weight.copy_(torch.tensor(WEIGHT))
        ln.bias.copy_(torch.tensor(BIAS))
    put("ln.x", torch.tensor(X1))
    put("ln.y", ln(torch.tensor(X1)))

    out = pathlib.Path(__file__).resolve().parents[2] / "nn-runtime" / "tests" / "data" / "norm.txt"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} lines to {out}")


if __name__ == "__main__":
    main()
