"""Reference values of the image layers from PyTorch (float64): Conv2d,
MaxPool2d, AvgPool2d, AdaptiveAvgPool2d(1) + flatten, BatchNorm2d (train and eval).

Writes nn-runtime/tests/data/conv.txt, read by nn-runtime/tests/conv_reference.rs
(inside the crate it tests, so its packaged tests build). Each line is
`key v0 v1 ...`, a tensor flattened row-major: an image batch (B, C, H, W)
flattened row-major is nn's column-major batch of B columns of C*H*W values.

For each case `P`: `P.config` (the layer's numbers, see CONFIG_KEYS), `P.x`,
the parameters (`P.weight`, `P.bias`), the output `P.y`, and the gradients of
the scalar loss `(y * P.r).sum()` with respect to the input (`P.dx`) and to
each parameter (`P.dweight`, `P.dbias`), by torch.autograd.

Rerun: /work/main/.venv/bin/python tools/reference/conv.py
"""

import pathlib

import torch

torch.set_default_dtype(torch.float64)

CONFIG_KEYS = {
    "conv": "channels height width out_channels kernel stride padding bias batch",
    "max_pool": "channels height width kernel stride padding batch",
    "avg_pool": "channels height width kernel stride padding batch",
    "global_avg_pool": "channels height width batch",
    "batch_norm2d": "channels height width batch",
}

# (name, C, H, W, OC, K, S, P, bias, batch): strides 1 and 2, padding 0, 1 and 2,
# non-square images, 1x1 and 5x5 kernels (the Inception branches).
CONVS = [
    ("a", 2, 5, 6, 3, 3, 1, 1, True, 2),
    ("b", 3, 7, 7, 4, 3, 2, 0, False, 2),
    ("c", 2, 6, 5, 3, 2, 2, 1, True, 3),
    ("d", 3, 4, 4, 2, 1, 1, 0, True, 2),
    ("e", 1, 8, 8, 4, 5, 1, 2, True, 2),
]

# (name, C, H, W, K, S, P, batch, ties): `ties` draws integers 0..2, so most
# windows hold several maxima and PyTorch's choice among them is pinned down.
POOLS = [
    ("a", 2, 6, 6, 2, 2, 0, 2, False),
    ("b", 2, 5, 7, 3, 2, 1, 2, False),
    ("c", 2, 4, 4, 2, 1, 0, 2, True),
    ("d", 2, 5, 5, 3, 1, 1, 2, True),
]


def flat(t):
    return " ".join(repr(float(v)) for v in t.detach().reshape(-1).tolist())


class Table:
    def __init__(self):
        self.lines = []

    def put(self, key, values):
        if isinstance(values, torch.Tensor):
            self.lines.append(f"{key} {flat(values)}")
        else:
            self.lines.append(f"{key} " + " ".join(repr(float(v)) for v in values))

    def case(self, prefix, config, module, x, params):
        """Runs `module` on `x` in training mode and records everything."""
        self.put(f"{prefix}.config", config)
        x = x.clone().requires_grad_(True)
        self.put(f"{prefix}.x", x)
        for name, p in params:
            self.put(f"{prefix}.{name}", p)
        y = module(x)
        r = torch.randn(y.shape)
        (y * r).sum().backward()
        self.put(f"{prefix}.y", y)
        self.put(f"{prefix}.r", r)
        self.put(f"{prefix}.dx", x.grad)
        for name, p in params:
            self.put(f"{prefix}.d{name}", p.grad)


def main():
    torch.manual_seed(20261123)
    t = Table()

    for name, c, h, w, oc, k, s, p, bias, batch in CONVS:
        conv = torch.nn.Conv2d(c, oc, k, stride=s, padding=p, bias=bias)
        params = [("weight", conv.weight)] + ([("bias", conv.bias)] if bias else [])
        x = torch.randn(batch, c, h, w)
        t.case(f"conv.{name}", [c, h, w, oc, k, s, p, int(bias), batch], conv, x, params)

    for name, c, h, w, k, s, p, batch, ties in POOLS:
        x = torch.randint(0, 3, (batch, c, h, w)).double() if ties else torch.randn(batch, c, h, w)
        config = [c, h, w, k, s, p, batch]
        t.case(f"max_pool.{name}", config, torch.nn.MaxPool2d(k, stride=s, padding=p), x, [])
        avg = torch.nn.AvgPool2d(k, stride=s, padding=p)
        t.case(f"avg_pool.{name}", config, avg, torch.randn(batch, c, h, w), [])

    gap = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    t.case("global_avg_pool", [3, 4, 5, 2], gap, torch.randn(2, 3, 4, 5), [])

    # Channels on different scales and offsets, so the statistics matter.
    c, h, w, batch = 3, 4, 5, 3
    scale = torch.tensor([0.5, 3.0, 20.0]).view(1, c, 1, 1)
    offset = torch.tensor([-1.0, 4.0, 100.0]).view(1, c, 1, 1)
    bn = torch.nn.BatchNorm2d(c, momentum=0.1, eps=1e-5)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.5, -0.5, 2.0]))
        bn.bias.copy_(torch.tensor([0.1, 0.2, -0.3]))
    bn.train()
    for step in (1, 2):
        prefix = f"batch_norm2d.step{step}"
        bn.zero_grad()
        x = torch.randn(batch, c, h, w) * scale + offset
        t.case(prefix, [c, h, w, batch], bn, x, [("weight", bn.weight), ("bias", bn.bias)])
        t.put(f"{prefix}.running_mean", bn.running_mean)
        t.put(f"{prefix}.running_var", bn.running_var)
        t.put(f"{prefix}.num_batches_tracked", [bn.num_batches_tracked.item()])
    bn.eval()
    x = torch.randn(2, c, h, w) * scale + offset
    t.put("batch_norm2d.eval.x", x)
    with torch.no_grad():
        t.put("batch_norm2d.eval.y", bn(x))

    out = pathlib.Path(__file__).resolve().parents[2] / "nn-runtime" / "tests" / "data" / "conv.txt"
    out.write_text("\n".join(t.lines) + "\n")
    print(f"wrote {len(t.lines)} lines to {out}")


if __name__ == "__main__":
    main()
