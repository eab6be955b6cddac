"""The four networks of DESIGN.md's "Sequences, second version" as PyTorch
modules: each loads nn's file with load_state_dict(strict=True) and gives
nn's outputs on a batch of sequences of different lengths.

    Tagger(seq 16 -> seq 5)      { lstm(64), dropout(0.2), lstm(64), dense(5) }
    CharLm(tokens 28 -> seq 28)  { embedding(32), lstm(128), dense(28) }
    Reviews(tokens 5000 -> 2)    { embedding(64), bidirectional { gru(64) }, last, dense(2) }
    Deep(seq 8 -> 1)             { lstm(32), residual { lstm(32), layer_norm }, last, dense(1) }

`lstm(h)` is an nn.LSTMCell named by its index and run over the steps;
`bidirectional { gru(h) }` is an nn.GRU(bidirectional=True), whose
parameters are named weight_ih_l0, ..., weight_ih_l0_reverse, ...; `last`
after it is h_n. nn.Sequential cannot hold a cell run over time, so these
are small modules that register their items under nn's numbers.

Reads tools/reference/out/nn_{tagger,charlm,reviews,deep}.safetensors (written
by tests/seq_lengths.rs with NN_WRITE_REFERENCE=1) and the inputs, lengths and
nn's evaluation outputs beside them (nn_*_io.safetensors); each sequence runs
on its own, for its own number of steps, which is what packed sequences
compute. Asserts agreement to 1e-4 (the files are f32) and writes what it
checked to tools/reference/out/seq_modules.txt:

    /work/main/.venv/bin/python tools/reference/seq_modules.py
"""

from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

OUT = Path(__file__).parent / "out"


class Items(nn.Module):
    """Registers items under their numbers in a `network!` list."""

    def __init__(self, **items):
        super().__init__()
        for name, item in items.items():
            self.add_module(name.lstrip("_"), item)

    def item(self, k):
        return getattr(self, str(k))


def run_cell(cell, xs):
    """An LSTMCell over the steps of one sequence [steps, features]: every h."""
    h = torch.zeros(1, cell.hidden_size)
    c = torch.zeros(1, cell.hidden_size)
    out = []
    for x in xs:
        h, c = cell(x.unsqueeze(0), (h, c))
        out.append(h[0])
    return torch.stack(out)


class Tagger(Items):
    def __init__(self):
        super().__init__(_0=nn.LSTMCell(16, 64), _1=nn.Dropout(0.2), _2=nn.LSTMCell(64, 64), _3=nn.Linear(64, 5))

    def forward(self, xs):
        return self.item(3)(run_cell(self.item(2), self.item(1)(run_cell(self.item(0), xs))))


class CharLm(Items):
    def __init__(self):
        super().__init__(_0=nn.Embedding(28, 32), _1=nn.LSTMCell(32, 128), _2=nn.Linear(128, 28))

    def forward(self, ids):
        return self.item(2)(run_cell(self.item(1), self.item(0)(ids)))


class Reviews(Items):
    def __init__(self):
        super().__init__(_0=nn.Embedding(5000, 64), _1=nn.GRU(64, 64, bidirectional=True), _3=nn.Linear(128, 2))

    def forward(self, ids):
        _, h_n = self.item(1)(self.item(0)(ids).unsqueeze(1))
        return self.item(3)(torch.cat([h_n[0, 0], h_n[1, 0]]))


class Residual(Items):
    """y = x + body(x), the body's items numbered 0, 1, ... on this module."""

    def __init__(self):
        super().__init__(_0=nn.LSTMCell(32, 32), _1=nn.LayerNorm(32))

    def forward(self, xs):
        return xs + self.item(1)(run_cell(self.item(0), xs))


class Deep(Items):
    def __init__(self):
        super().__init__(_0=nn.LSTMCell(8, 32), _1=Residual(), _3=nn.Linear(32, 1))

    def forward(self, xs):
        return self.item(3)(self.item(1)(run_cell(self.item(0), xs))[-1])


def check(name, module, per_step_in, per_step_out, tokens):
    module.load_state_dict(load_file(OUT / f"nn_{name}.safetensors"), strict=True)
    module.eval()
    io = load_file(OUT / f"nn_{name}_io.safetensors")
    x, lengths, y = io["x"], io["lengths"][:, 0].long(), io["y"]
    worst = 0.0
    with torch.no_grad():
        for j, length in enumerate(lengths.tolist()):
            steps = x[j].reshape(-1, per_step_in)[:length]
            out = module(steps[:, 0].long() if tokens else steps)
            if per_step_out:
                ours = y[j].reshape(-1, per_step_out)
                assert torch.all(ours[length:] == 0), f"{name}: nn's output past the end of sequence {j}"
                ours = ours[:length]
            else:
                ours = y[j]
            worst = max(worst, (out - ours).abs().max().item())
    assert worst < 1e-4, f"{name}: PyTorch and nn differ by {worst}"
    names = ", ".join(module.state_dict().keys())
    return f"{name}: strict load ok ({names}); {len(lengths)} sequences of lengths {lengths.tolist()}, largest difference {worst:.1e}"


def main():
    lines = [
        check("tagger", Tagger(), 16, 5, False),
        check("charlm", CharLm(), 1, 28, True),
        check("reviews", Reviews(), 1, 0, True),
        check("deep", Deep(), 8, 0, False),
    ]
    text = "\n".join(lines) + "\n"
    (OUT / "seq_modules.txt").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
