#!/usr/bin/env python3
"""Issue 9's workloads W1-W6, issue 15's W7, and issue 18's image workloads
(the Inception step and W8) in PyTorch on the CPU, float32, at 1 and 2 threads.

One train step = optimizer.zero_grad(), forward, F.cross_entropy over 10
classes, backward, torch.optim.SGD step (lr 0.01, no momentum), exactly as
benches/workloads.rs does in nn. W6 is W2's network in eval mode under
torch.inference_mode(), one sample.

W7 is the train step of examples/words.rs (tools/reference/words_lm.py's
CharLm): nn.Embedding(28, 32) -> nn.LSTM(32, 128) -> nn.Linear(128, 28) at
every real step, F.cross_entropy averaged over the real steps, the same SGD
step. Its batch is the first 64 words of the training part of
nn::data::split_words(&words(), 0.1, 15) (in Rust: `&train[..64]`; 599 real
steps, 5 to 16 per word), padded with START and packed with
pack_padded_sequence. The words are sorted longest first once, outside the
timed step, and their targets packed once (enforce_sorted, PyTorch's
cheapest path).

Inception is the train step of benches/inception.rs: the network `Heads` of
examples/common/inception.rs (8,722 parameters, checked) on a batch of 32
images of 1x8x8, the loss cross-entropy plus 0.3 times each auxiliary head's,
torch.optim.Adam (lr 1e-3). W8 is LeNet-5 on 28x28 images (conv2d(6, 5),
relu, max_pool(2), conv2d(16, 5), relu, max_pool(2), flatten, dense(120),
relu, dense(84), relu, dense(10)), batch 64, the SGD step of W1-W5, as
benches/inception.rs times it in nn.

    /work/main/.venv/bin/python tools/bench/torch_bench.py            # full run
    /work/main/.venv/bin/python tools/bench/torch_bench.py --quick    # smoke run

Each workload is warmed up, then timed call by call for at least --seconds
(and at least --min-reps calls); the median is reported. Results go to
tools/bench/out/torch.json (or --out).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = 10


def mlp(widths, act):
    layers = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        layers.append(nn.Linear(a, b))
        if i + 2 < len(widths):
            layers.append(act())
    return nn.Sequential(*layers)


class Recurrent(nn.Module):
    """LSTM or GRU over the sequence, last hidden state -> dense(10)."""

    def __init__(self, cell, inputs, hidden):
        super().__init__()
        self.rnn = cell(inputs, hidden)
        self.head = nn.Linear(hidden, CLASSES)

    def forward(self, x):  # x: (steps, batch, inputs)
        out, _ = self.rnn(x)
        return self.head(out[-1])


def train_step_fn(model, x, y):
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return step


class InceptionModule(nn.Module):
    """GoogLeNet's module: 1x1, 1x1 -> 3x3, 1x1 -> 5x5, 3x3 max pool -> 1x1, concatenated."""

    def __init__(self, cin, c1, r3, c3, r5, c5, cp):
        super().__init__()
        self.branches = nn.ModuleList([
            nn.Sequential(nn.Conv2d(cin, c1, 1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(cin, r3, 1), nn.ReLU(), nn.Conv2d(r3, c3, 3, padding=1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(cin, r5, 1), nn.ReLU(), nn.Conv2d(r5, c5, 5, padding=2), nn.ReLU()),
            nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(cin, cp, 1), nn.ReLU()),
        ])

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], dim=1)


def aux_head(channels, size):
    """avg_pool(2), conv2d(8, kernel = 1), relu, flatten, dense(10)."""
    side = size // 2
    return nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(channels, 8, 1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8 * side * side, CLASSES))


class Heads(nn.Module):
    """examples/common/inception.rs's Heads: stem, module, aux head, max pool,
    module, aux head, global average pool, dense(10)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU())
        self.m1 = InceptionModule(16, 8, 8, 12, 4, 6, 6)
        self.aux1 = aux_head(32, 8)
        self.m2 = InceptionModule(32, 16, 12, 16, 4, 8, 8)
        self.aux2 = aux_head(48, 4)
        self.head = nn.Linear(48, CLASSES)

    def forward(self, x):
        h = self.m1(self.stem(x))
        a1 = self.aux1(h)
        h = self.m2(F.max_pool2d(h, 2))
        a2 = self.aux2(h)
        return self.head(h.mean(dim=(2, 3))), a1, a2


def inception_step(x, y):
    model = Heads()
    count = sum(p.numel() for p in model.parameters())
    assert count == 8722, f"Heads has {count} parameters, nn's 8,722"
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        out, a1, a2 = model(x)
        loss = F.cross_entropy(out, y) + 0.3 * F.cross_entropy(a1, y) + 0.3 * F.cross_entropy(a2, y)
        loss.backward()
        opt.step()

    return step


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, CLASSES))


def workloads():
    """(name, description, step function) for each workload, freshly seeded."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)

    def batch(shape):
        return torch.rand(shape, generator=g) * 3.4 - 1.7, torch.randint(0, CLASSES, (shape[-2],), generator=g)

    out = []
    x, y = batch((32, 64))
    out.append(("W1", "MLP 64-128-128-10 relu, batch 32", train_step_fn(mlp([64, 128, 128, 10], nn.ReLU), x, y)))
    x, y = batch((128, 784))
    w2 = mlp([784, 512, 512, 10], nn.ReLU)
    out.append(("W2", "MLP 784-512-512-10 relu, batch 128", train_step_fn(w2, x, y)))
    x, y = batch((64, 64))
    out.append(("W3", "20 sigmoid layers of 128, 64 -> 10, batch 64",
                train_step_fn(mlp([64] + [128] * 20 + [10], nn.Sigmoid), x, y)))
    for name, cell in (("W4", nn.LSTM), ("W5", nn.GRU)):
        x = torch.rand((50, 32, 32), generator=g) * 3.4 - 1.7
        y = torch.randint(0, CLASSES, (32,), generator=g)
        out.append((name, f"{cell.__name__} 32 -> 128, 50 steps, batch 32, last -> dense(10)",
                    train_step_fn(Recurrent(cell, 32, 128), x, y)))
    w6 = mlp([784, 512, 512, 10], nn.ReLU).eval()
    one = torch.rand((1, 784), generator=g)

    def predict():
        with torch.inference_mode():
            w6(one)

    out.append(("W6", "W2's network, predict one sample", predict))
    out.append(("W7", "words LM: embedding 28x32, LSTM 128, dense(28) per step, 64 words, 599 real steps",
                words_step()))
    x = torch.rand((32, 1, 8, 8), generator=g) * 16.0
    y = torch.randint(0, CLASSES, (32,), generator=g)
    out.append(("Inception", "examples/common/inception.rs's Heads, Adam, both aux losses, batch 32 of 1x8x8",
                inception_step(x, y)))
    x, y = torch.rand((64, 1, 28, 28), generator=g) * 3.4 - 1.7, torch.randint(0, CLASSES, (64,), generator=g)
    out.append(("W8", "LeNet-5 on 1x28x28, batch 64", train_step_fn(lenet(), x, y)))
    return out


def words_step():
    """W7's train step, on examples/words.rs's model and data (see the docstring)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
    from words_lm import CharLm, batch, load_words, split_words

    train_words, _ = split_words(load_words(), 0.1, 15)
    x, y, lengths = batch(train_words[:64])
    model = CharLm()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x, lengths), y).backward()
        opt.step()

    return step


def measure(fn, seconds, min_reps, warmup):
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < seconds:
        t0 = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) * 1e-9, len(times)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: short timings")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    ap.add_argument("--seconds", type=float, default=5.0, help="time per workload and thread count")
    ap.add_argument("--min-reps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--out", default=os.path.join(here, "out", "torch.json"))
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.min_reps, args.warmup = 0.3, 5, 3

    threads = [int(t) for t in args.threads.split(",")]
    results = {}
    for t in threads:
        torch.set_num_threads(t)
        for name, desc, fn in workloads():
            median, reps = measure(fn, args.seconds, args.min_reps, args.warmup)
            results.setdefault(name, {"description": desc})[f"threads_{t}"] = {"median_s": median, "reps": reps}
            print(f"{name} threads={t}: {median * 1e6:10.1f} us  ({reps} reps)", flush=True)

    print()
    print(f"PyTorch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    header = f"{'':9} " + " ".join(f"{f'{t} thread' + ('s' if t > 1 else ''):>14}" for t in threads) + "  workload"
    print(header)
    for name, r in results.items():
        cells = " ".join(f"{r[f'threads_{t}']['median_s'] * 1e6:>11.1f} us" for t in threads)
        print(f"{name:9} {cells}  {r['description']}")

    doc = {
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": platform.processor() or platform.machine(),
        "quick": args.quick,
        "seconds_per_workload": args.seconds,
        "workloads": results,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
