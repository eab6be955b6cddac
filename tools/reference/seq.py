"""Reference numbers for nn's sequences of different lengths, from PyTorch's
packed sequences (float64).

Run from the repository root:
    /work/main/.venv/bin/python tools/reference/seq.py
It rewrites nn-runtime/tests/data/seq_reference.txt (read by
nn-runtime/tests/seq_torch_parity.rs). Everything is seeded, so a rerun gives
the same file.

A batch of 4 sequences of lengths 5, 2, 4, 1 (not sorted, so packing reorders
them) padded to 5 steps:

- lstm, gru: nn.LSTM(3, 4) / nn.GRU(3, 4) on pack_padded_sequence(x, lengths,
  enforce_sorted=False); out = pad_packed_sequence(...) (zero past each end),
  h_n; L = sum(R * out) + sum(RH * h_n), gradients for x and every parameter.
- bilstm, bigru: the same with bidirectional=True: out [5, 4, 8], h_n [2, 4, 4]
  (the forward direction at each sequence's last step, the reverse at step 0).
- embedding: nn.Embedding(6, 3) on ids [5, 4]; L = sum over real steps of
  R * embedding(ids); the gradient of the weight (rows of unused ids zero).
- ce: logits [5, 4, 7]; F.cross_entropy over the packed data (the mean over
  the 12 real steps) against classes; the gradient of the padded logits.
- mse: outputs [5, 4, 2] against targets; F.mse_loss over the packed data.

Format: one tensor per line, `<case>.<tensor> <dim>x<dim>... <values>`,
row-major, Python repr; sequences [steps, batch, features]. Lengths are
written as numbers.
"""

import os

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

I, H, BATCH, STEPS = 3, 4, 4, 5
LENGTHS = [5, 2, 4, 1]
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "nn-runtime", "tests", "data", "seq_reference.txt")


def fmt(name, t):
    t = torch.as_tensor(t).detach().to(torch.float64).contiguous()
    shape = "x".join(str(d) for d in t.shape)
    return f"{name} {shape} " + " ".join(repr(float(v)) for v in t.reshape(-1).tolist())


def mask():
    """[steps, batch, 1]: 1 at real steps."""
    m = torch.zeros(STEPS, BATCH, 1, dtype=torch.float64)
    for j, n in enumerate(LENGTHS):
        m[:n, j] = 1
    return m


def recurrent(kind, ctor, bidirectional, lines):
    rnn = ctor(I, H, bidirectional=bidirectional).double()
    directions = 2 if bidirectional else 1
    x = (torch.randn(STEPS, BATCH, I, dtype=torch.float64) * mask()).requires_grad_()
    r = torch.randn(STEPS, BATCH, directions * H, dtype=torch.float64)
    rh = torch.randn(directions, BATCH, H, dtype=torch.float64)
    packed = pack_padded_sequence(x, torch.tensor(LENGTHS), enforce_sorted=False)
    out, state = rnn(packed)
    out, _ = pad_packed_sequence(out, total_length=STEPS)
    h_n = state[0] if isinstance(state, tuple) else state
    loss = (r * out).sum() + (rh * h_n).sum()
    loss.backward()
    for name, p in rnn.named_parameters():
        lines.append(fmt(f"{kind}.{name}", p))
    lines.append(fmt(f"{kind}.x", x))
    lines.append(fmt(f"{kind}.r", r))
    lines.append(fmt(f"{kind}.rh", rh))
    lines.append(fmt(f"{kind}.out", out))
    lines.append(fmt(f"{kind}.h_n", h_n))
    lines.append(fmt(f"{kind}.grad.x", x.grad))
    for name, p in rnn.named_parameters():
        lines.append(fmt(f"{kind}.grad.{name}", p.grad))


def embedding(lines):
    emb = torch.nn.Embedding(6, 3).double()
    ids = torch.randint(0, 6, (STEPS, BATCH)) * mask()[:, :, 0].long()
    r = torch.randn(STEPS, BATCH, 3, dtype=torch.float64) * mask()
    loss = (r * emb(ids)).sum()
    loss.backward()
    lines.append(fmt("embedding.weight", emb.weight))
    lines.append(fmt("embedding.ids", ids))
    lines.append(fmt("embedding.r", r))
    lines.append(fmt("embedding.out", emb(ids) * mask()))
    lines.append(fmt("embedding.grad.weight", emb.weight.grad))


def losses(lines):
    lengths = torch.tensor(LENGTHS)
    logits = torch.randn(STEPS, BATCH, 7, dtype=torch.float64, requires_grad=True)
    classes = torch.randint(0, 7, (STEPS, BATCH))
    packed = pack_padded_sequence(logits, lengths, enforce_sorted=False).data
    targets = pack_padded_sequence(classes, lengths, enforce_sorted=False).data
    loss = F.cross_entropy(packed, targets)
    loss.backward()
    lines.append(fmt("ce.logits", logits))
    lines.append(fmt("ce.classes", classes))
    lines.append(fmt("ce.loss", loss.reshape(1)))
    lines.append(fmt("ce.grad", logits.grad))

    y = torch.randn(STEPS, BATCH, 2, dtype=torch.float64, requires_grad=True)
    t = torch.randn(STEPS, BATCH, 2, dtype=torch.float64)
    loss = F.mse_loss(pack_padded_sequence(y, lengths, enforce_sorted=False).data,
                      pack_padded_sequence(t, lengths, enforce_sorted=False).data)
    loss.backward()
    lines.append(fmt("mse.y", y))
    lines.append(fmt("mse.t", t))
    lines.append(fmt("mse.loss", loss.reshape(1)))
    lines.append(fmt("mse.grad", y.grad))


def main():
    torch.manual_seed(20261215)
    lines = [
        "# Written by tools/reference/seq.py with torch " + torch.__version__ + " (float64). Do not edit.",
        "# <case>.<tensor> <shape> <values row-major>; sequences [steps, batch, features].",
        "lengths 4 " + " ".join(str(n) for n in LENGTHS),
    ]
    recurrent("lstm", torch.nn.LSTM, False, lines)
    recurrent("gru", torch.nn.GRU, False, lines)
    recurrent("bilstm", torch.nn.LSTM, True, lines)
    recurrent("bigru", torch.nn.GRU, True, lines)
    embedding(lines)
    losses(lines)
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
