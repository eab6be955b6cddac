"""The PyTorch model that examples/sunspots.rs must match: forecast the next
month's sunspot number from the months before it (issue 15).

    /work/main/.venv/bin/python tools/reference/sunspots.py            # train, report
    /work/main/.venv/bin/python tools/reference/sunspots.py --select   # choose the settings

Data and conventions are nn's (nn-runtime/src/data/sunspots.rs): the 3126
months of nn-runtime/data/sunspots_monthly.csv; the first round(0.8 n) = 2501
months train, the last 625 test, by time. A sample is a window of the WINDOW
months before a target month; the first test windows reach back into the
training months. Values (inputs and targets) are standardized by the mean and
population standard deviation of the training months only. The persistence
baseline forecasts each test month as the month before it.

Model: nn.LSTM(1, HIDDEN) over the window, its last hidden state ->
nn.Linear(HIDDEN, 1) (nn: `network! { Spots(seq 1 -> 1) { lstm(HIDDEN),
last, dense(1) } }`); MSE; Adam, batch 32, shuffled each epoch, the learning
rate annealed to 0 along a cosine over every step of the run (torch's
CosineAnnealingLR stepped after each batch, T_max = the run's steps: nn's
Trainer::schedule_per_step(Schedule::Cosine { t_max, eta_min: 0.0 })).
PyTorch's default initialization (U(-1/sqrt(fan), 1/sqrt(fan))).

--select carves a validation part from the end of the training months (their
last 20 %: months 2001..2501, standardized by months 0..2001), trains on the
rest for each window, hidden size, learning rate and epoch count, and writes
tools/reference/out/sunspots_select.json; the chosen settings are written
below. The default run trains on all training months and scores the test
months once, for three seeds (initialization and batch order), and writes
tools/reference/out/sunspots.json: test_rmse is the mean over the seeds.
"""

import argparse
import csv
import itertools
import json
import math
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

import examples_common

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "nn-runtime" / "data" / "sunspots_monthly.csv"
OUT = Path(__file__).resolve().parent / "out"
CHECK_FILE = ROOT / "nn-runtime" / "tests" / "data" / "sunspots_check.json"

BATCH = 32
# Chosen by --select on the validation part (see out/sunspots_select.json).
WINDOW = 48
HIDDEN = 32
LR = 0.003
EPOCHS = 50


def load():
    with open(DATA) as f:
        return [float(row["sunspots"]) for row in csv.DictReader(f)]


def split_months(start, end, fraction):
    cut = start + math.floor((end - start) * fraction + 0.5)  # Rust's f64::round
    return range(start, cut), range(cut, end)


def mean_std(values):
    m = sum(values) / len(values)
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / len(values))


def windows(series, window, targets, mean, std):
    """Inputs (window, samples, 1) and targets (samples, 1), standardized."""
    first = max(targets.start, window)
    s = (torch.tensor(series, dtype=torch.float32) - mean) / std
    x = torch.stack([s[t - window : t] for t in range(first, targets.stop)], dim=1)
    return x.unsqueeze(-1), s[first : targets.stop].unsqueeze(-1)


def persistence_rmse(series, targets):
    return math.sqrt(sum((series[t] - series[t - 1]) ** 2 for t in targets) / len(targets))


class Forecaster(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden)
        self.dense = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.dense(out[-1])


def train(x, y, hidden, lr, epochs, seed):
    n = x.shape[1]

    def batches(g):
        perm = torch.randperm(n, generator=g)
        return [perm[i : i + BATCH] for i in range(0, n, BATCH)]

    def loss(model, idx):
        return F.mse_loss(model(x[:, idx]), y[idx])

    return examples_common.train(lambda: Forecaster(hidden), batches, loss, math.ceil(n / BATCH), lr, epochs, seed)


def rmse(model, x, y, std):
    """RMSE in sunspot numbers of standardized forecasts."""
    with torch.no_grad():
        return math.sqrt(F.mse_loss(model(x), y).item()) * std


def select(series, train_months, grid, seeds):
    fit, validation = split_months(train_months.start, train_months.stop, 0.8)
    mean, std = mean_std(series[fit.start : fit.stop])
    runs = []
    for window, hidden, lr, epochs in grid:
        x, y = windows(series, window, fit, mean, std)
        vx, vy = windows(series, window, validation, mean, std)
        t0 = time.perf_counter()
        scores = [rmse(train(x, y, hidden, lr, epochs, seed), vx, vy, std) for seed in seeds]
        runs.append({"window": window, "hidden": hidden, "lr": lr, "epochs": epochs,
                     "validation_rmse": round(sum(scores) / len(scores), 4),
                     "by_seed": [round(s, 4) for s in scores], "seconds": round(time.perf_counter() - t0, 1)})
        print(runs[-1], flush=True)
    about = {
        "fit_months": [fit.start, fit.stop],
        "validation_months": [validation.start, validation.stop],
        "validation_persistence_rmse": round(persistence_rmse(series, validation), 4),
        "seeds": seeds,
    }
    examples_common.write_selection(OUT / "sunspots_select.json", about, runs, "validation_rmse")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--select", action="store_true", help="choose the settings on the validation part")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (initialization and batch order)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    OUT.mkdir(exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]

    series = load()
    train_months, test_months = split_months(0, len(series), 0.8)
    persistence = persistence_rmse(series, test_months)
    if args.select:
        grid = itertools.product([12, 24, 48], [16, 32], [0.003, 0.01], [20, 50])
        select(series, train_months, list(grid), seeds)
        return

    mean, std = mean_std(series[train_months.start : train_months.stop])
    x, y = windows(series, WINDOW, train_months, mean, std)
    tx, ty = windows(series, WINDOW, test_months, mean, std)
    runs = []
    for seed in seeds:
        t0 = time.perf_counter()
        model = train(x, y, HIDDEN, LR, EPOCHS, seed)
        runs.append({"seed": seed, "test_rmse": round(rmse(model, tx, ty, std), 4),
                     "train_rmse": round(rmse(model, x, y, std), 4),
                     "train_seconds": round(time.perf_counter() - t0, 1)})
        print(f"seed {seed}: test RMSE {runs[-1]['test_rmse']:.2f} (persistence {persistence:.2f})", flush=True)
    doc = {
        "test_rmse": round(sum(r["test_rmse"] for r in runs) / len(runs), 4),
        "persistence_rmse": round(persistence, 4),
        "runs": runs,
        "settings": {"window": WINDOW, "hidden": HIDDEN, "batch": BATCH, "optimizer": "Adam", "lr": LR,
                     "schedule": "cosine to 0 per step", "epochs": EPOCHS, "loss": "MSE"},
        "train_months": [train_months.start, train_months.stop],
        "test_months": [test_months.start, test_months.stop],
        "standardization": {"mean": round(mean, 6), "std": round(std, 6)},
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    (OUT / "sunspots.json").write_text(json.dumps(doc, indent=1) + "\n")
    CHECK_FILE.write_text(json.dumps({
        "train_months": doc["train_months"], "test_months": doc["test_months"],
        "persistence_rmse": persistence, "mean": mean, "std": std,
    }, indent=1) + "\n")
    print(f"wrote {OUT / 'sunspots.json'} and {CHECK_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
