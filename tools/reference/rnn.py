"""Reference numbers for nn::rnn from PyTorch's nn.RNNCell, nn.LSTMCell, nn.GRUCell.

Run from the repository root:
    python tools/reference/rnn.py
It rewrites nn-runtime/tests/data/rnn_reference.txt (read by
nn-runtime/tests/rnn_torch_parity.rs). Everything is seeded and float64, so a
rerun gives the same file.

For each cell (I=3, H=4, batch 2, 5 steps) the file holds the weights, the
inputs, the initial state, every step's output, the final state, and
torch.autograd's gradients of

    L = sum_t <R_t, h_t> + <RC, c_T>   (the second term for the LSTM only)

with fixed random R, RC, with respect to the inputs, the initial state and
every parameter. The `<cell>_trunc2` cases repeat each cell with the state
detached before steps 3 and 1 (truncated BPTT with k = 2, counted from the
end, as nn's Recurrent::set_truncation defines it).

Format (trivially parseable, no JSON dependency): one tensor per line,
    <case>.<tensor> <dim>x<dim>... <values, row-major, Python repr>
Sequences are [steps, batch, features]; states [batch, H]; parameters in
PyTorch's shapes.
"""

import os

import torch

I, H, BATCH, STEPS = 3, 4, 2, 5
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "nn-runtime", "tests", "data", "rnn_reference.txt")


def run(kind, cell, xs, h0, c0, r, rc, truncate):
    h, c = h0, c0
    outs = []
    loss = 0.0
    for t in range(STEPS):
        if truncate and (STEPS - t) % truncate == 0:
            h = h.detach()
            c = c.detach() if c is not None else None
        if kind == "lstm":
            h, c = cell(xs[t], (h, c))
        else:
            h = cell(xs[t], h)
        outs.append(h)
        loss = loss + (r[t] * h).sum()
    if kind == "lstm":
        loss = loss + (rc * c).sum()
    return torch.stack(outs), h, c, loss


def fmt(name, t):
    t = t.detach().contiguous()
    shape = "x".join(str(d) for d in t.shape)
    return f"{name} {shape} " + " ".join(repr(float(v)) for v in t.reshape(-1).tolist())


def main():
    torch.manual_seed(20261123)
    lines = [
        "# Written by tools/reference/rnn.py with torch " + torch.__version__ + " (float64). Do not edit.",
        "# <case>.<tensor> <shape> <values row-major>; sequences [steps, batch, features], states [batch, H].",
    ]
    for kind, ctor in [("rnn", torch.nn.RNNCell), ("lstm", torch.nn.LSTMCell), ("gru", torch.nn.GRUCell)]:
        cell = ctor(I, H).double()
        xs = torch.randn(STEPS, BATCH, I, dtype=torch.float64)
        h0 = 0.5 * torch.randn(BATCH, H, dtype=torch.float64)
        c0 = 0.5 * torch.randn(BATCH, H, dtype=torch.float64) if kind == "lstm" else None
        r = torch.randn(STEPS, BATCH, H, dtype=torch.float64)
        rc = torch.randn(BATCH, H, dtype=torch.float64) if kind == "lstm" else None
        params = [("weight_ih", cell.weight_ih), ("weight_hh", cell.weight_hh),
                  ("bias_ih", cell.bias_ih), ("bias_hh", cell.bias_hh)]
        for name, p in params:
            lines.append(fmt(f"{kind}.{name}", p))
        lines.append(fmt(f"{kind}.x", xs))
        lines.append(fmt(f"{kind}.h0", h0))
        lines.append(fmt(f"{kind}.r", r))
        if kind == "lstm":
            lines.append(fmt(f"{kind}.c0", c0))
            lines.append(fmt(f"{kind}.rc", rc))
        for case, truncate in [(kind, None), (kind + "_trunc2", 2)]:
            x = xs.clone().requires_grad_(True)
            h = h0.clone().requires_grad_(True)
            c = c0.clone().requires_grad_(True) if kind == "lstm" else None
            cell.zero_grad()
            outs, _, c_last, loss = run(kind, cell, x, h, c, r, rc, truncate)
            loss.backward()
            lines.append(fmt(f"{case}.out", outs))
            if kind == "lstm":
                lines.append(fmt(f"{case}.c_last", c_last))
            lines.append(fmt(f"{case}.grad.x", x.grad))
            lines.append(fmt(f"{case}.grad.h0", h.grad if h.grad is not None else torch.zeros_like(h)))
            if kind == "lstm":
                lines.append(fmt(f"{case}.grad.c0", c.grad if c.grad is not None else torch.zeros_like(c)))
            for name, p in params:
                lines.append(fmt(f"{case}.grad.{name}", p.grad))
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", os.path.normpath(OUT), len(lines), "lines")


if __name__ == "__main__":
    main()
