"""The PyTorch model that examples/words.rs must match: a character-level
language model of English words (issue 15).

    /work/main/.venv/bin/python tools/reference/words_lm.py            # train, report, sample
    /work/main/.venv/bin/python tools/reference/words_lm.py --select   # choose lr and epochs
    /work/main/.venv/bin/python tools/reference/words_lm.py --split    # only the split files

Data and conventions are nn's (nn-runtime/src/data/words.rs): the words of
nn-runtime/data/words.txt.gz; 28 tokens, a-z = 0..25, END = 26, START = 27;
a word of n letters is n + 1 steps, inputs START + letters, targets letters +
END; padding holds START. The held-out 10 % come from split_words below,
which computes nn::data::split_words bit for bit (the Rust test
nn-runtime/tests/sequence_data.rs checks the file this script writes).

Model: nn.Embedding(28, 32) -> nn.LSTM(32, 128) (one layer) -> nn.Linear(128, 28)
at every step; softmax cross-entropy averaged over every real step of the
batch; variable lengths through pack_padded_sequence; Adam, batch 64, its
learning rate annealed to 0 along a cosine over every step of the run (torch's
CosineAnnealingLR stepped after each batch, T_max = the run's steps: nn's
Trainer::schedule_per_step(Schedule::Cosine { t_max, eta_min: 0.0 })); each
epoch's batches are cut from the training words sorted by length (ties in a
random order) and then shuffled, so a batch holds words of about one length.
PyTorch's default initialization (Embedding N(0, 1), LSTM and Linear
U(-1/sqrt(fan), 1/sqrt(fan)) as their reset_parameters do).

--select trains on the training words minus a validation part (split_words
of the training words with seed + 1) for each learning rate and epoch count
(each a run of its own, as the schedule depends on its length; 20 epochs at
most, so that nn's example trains within issue 15's 3 minutes), scores the
validation words, and writes tools/reference/out/words_lm_select.json. The
chosen learning rate and epoch count are written below (LR, EPOCHS); the
default run trains on all training words with them, scores the held-out
words once, for three seeds (initialization and batch order), samples 20
words from the first seed's model, and writes tools/reference/out/
words_lm.json: held_out_bpc is the mean over the seeds.
"""

import argparse
import gzip
import json
import math
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence

import examples_common

ROOT = Path(__file__).resolve().parents[2]
WORDS = ROOT / "nn-runtime" / "data" / "words.txt.gz"
OUT = Path(__file__).resolve().parent / "out"
SPLIT_FILE = ROOT / "nn-runtime" / "tests" / "data" / "words_split.json"

VOCAB, END, START = 28, 26, 27
EMBED, HIDDEN, BATCH = 32, 128, 64
SEED = 15  # the split's seed; the validation part uses SEED + 1
HELD_OUT = 0.1

# Chosen by --select on the validation part (see out/words_lm_select.json).
LR = 0.01
EPOCHS = 20

MASK = (1 << 64) - 1


def load_words():
    with gzip.open(WORDS, "rt") as f:
        return f.read().split("\n")[:-1]


def split_key(seed, word):
    """nn::data::split_words's key: FNV-1a 64 over the seed's 8 little-endian
    bytes and the word's UTF-8 bytes, then SplitMix64's finalizer."""
    h = 0xCBF29CE484222325
    for b in seed.to_bytes(8, "little") + word.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & MASK
    return h ^ (h >> 31)


def split_words(words, held_out_fraction, seed):
    """(train, held out), both in the seeded order, as nn::data::split_words."""
    order = sorted(words, key=lambda w: (split_key(seed, w), w))
    n = math.floor(len(words) * held_out_fraction + 0.5)  # Rust's f64::round, not banker's rounding
    return order[n:], order[:n]


def tokens(word):
    letters = [ord(c) - ord("a") for c in word]
    return [START] + letters, letters + [END]


class CharLm(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, EMBED)
        self.lstm = nn.LSTM(EMBED, HIDDEN)
        self.dense = nn.Linear(HIDDEN, VOCAB)

    def forward(self, x, lengths):
        """x: (steps, batch) tokens padded with START; lengths sorted longest first.
        The logits of every real step, in packed order (step by step)."""
        packed = pack_padded_sequence(self.embedding(x), lengths)
        out, _ = self.lstm(packed)
        return self.dense(out.data)


def batch(words):
    """Tokens (steps, batch), packed targets and lengths of words sorted longest first."""
    words = sorted(words, key=len, reverse=True)
    lengths = torch.tensor([len(w) + 1 for w in words])
    x = torch.full((int(lengths[0]), len(words)), START)
    y = torch.full((int(lengths[0]), len(words)), START)
    for j, w in enumerate(words):
        inp, tgt = tokens(w)
        x[: len(inp), j] = torch.tensor(inp)
        y[: len(tgt), j] = torch.tensor(tgt)
    return x, pack_padded_sequence(y, lengths).data, lengths


def length_grouped_batches(words, g):
    """Batches of BATCH words of about one length, in a random order."""
    perm = torch.randperm(len(words), generator=g).tolist()
    by_length = sorted(perm, key=lambda i: len(words[i]))  # stable: ties keep the random order
    chunks = [by_length[i : i + BATCH] for i in range(0, len(by_length), BATCH)]
    return [[words[i] for i in chunks[k]] for k in torch.randperm(len(chunks), generator=g).tolist()]


def bits_per_character(model, words):
    """Summed cross-entropy over every real step / real steps / ln 2."""
    nats, steps = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(words), 1024):
            x, y, lengths = batch(words[i : i + 1024])
            nats += F.cross_entropy(model(x, lengths), y, reduction="sum").item()
            steps += len(y)
    return nats / steps / math.log(2)


def train(words, lr, epochs, seed):
    def loss(model, ws):
        x, y, lengths = batch(ws)
        return F.cross_entropy(model(x, lengths), y)

    return examples_common.train(CharLm, lambda g: length_grouped_batches(words, g), loss,
                             math.ceil(len(words) / BATCH), lr, epochs, seed)


def sample(model, count, g, max_letters=30):
    out = []
    with torch.no_grad():
        for _ in range(count):
            x, state, word = torch.tensor([[START]]), None, ""
            while len(word) < max_letters:
                h, state = model.lstm(model.embedding(x), state)
                p = F.softmax(model.dense(h[-1, 0]), dim=0)
                p[START] = 0.0  # never a target
                t = int(torch.multinomial(p, 1, generator=g))
                if t == END:
                    break
                word += chr(ord("a") + t)
                x = torch.tensor([[t]])
            out.append(word)
    return out


def write_split(train_words, held_out):
    """What the Rust test compares: sizes, the first words of each part, and
    W7's batch (the first BATCH training words) with its lengths."""
    fit, validation = split_words(train_words, HELD_OUT, SEED + 1)
    doc = {
        "seed": SEED,
        "held_out_fraction": HELD_OUT,
        "train": len(train_words),
        "held_out": len(held_out),
        "held_out_first": held_out[:20],
        "train_first": train_words[:BATCH],
        "w7_steps": [len(w) + 1 for w in train_words[:BATCH]],
        "validation_seed": SEED + 1,
        "fit": len(fit),
        "validation": len(validation),
        "validation_first": validation[:20],
    }
    SPLIT_FILE.write_text(json.dumps(doc, indent=1) + "\n")
    print("wrote", SPLIT_FILE.relative_to(ROOT))


def select(train_words, lrs, epoch_counts):
    fit, validation = split_words(train_words, HELD_OUT, SEED + 1)
    runs = []
    for lr in lrs:
        for epochs in epoch_counts:
            t0 = time.perf_counter()
            bpc = bits_per_character(train(fit, lr, epochs, 0), validation)
            runs.append({"lr": lr, "epochs": epochs, "validation_bpc": round(bpc, 5),
                         "seconds": round(time.perf_counter() - t0, 1)})
            print(runs[-1], flush=True)
    about = {"fit_words": len(fit), "validation_words": len(validation)}
    examples_common.write_selection(OUT / "words_lm_select.json", about, runs, "validation_bpc")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--select", action="store_true", help="choose lr and epochs on the validation part")
    ap.add_argument("--split", action="store_true", help="only write the split file for the Rust test")
    ap.add_argument("--lrs", default="0.003,0.01,0.02")
    ap.add_argument("--epochs", default="5,10,15,20",
                    help="epoch counts --select tries (20 at most: nn must train in 3 minutes)")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (initialization and batch order)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: on a busy 2-core machine two are slower)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    OUT.mkdir(exist_ok=True)

    train_words, held_out = split_words(load_words(), HELD_OUT, SEED)
    if args.split:
        write_split(train_words, held_out)
        return
    if args.select:
        select(train_words, [float(v) for v in args.lrs.split(",")], [int(v) for v in args.epochs.split(",")])
        return

    runs, sampled = [], None
    for seed in [int(v) for v in args.seeds.split(",")]:
        t0 = time.perf_counter()
        model = train(train_words, LR, EPOCHS, seed)
        train_s = time.perf_counter() - t0
        bpc = bits_per_character(model, held_out)
        runs.append({"seed": seed, "held_out_bpc": round(bpc, 5),
                     "train_bpc": round(bits_per_character(model, train_words), 5), "train_seconds": round(train_s, 1)})
        print(f"seed {seed}: held-out bits per character: {bpc:.4f} (trained in {train_s:.0f} s)", flush=True)
        if sampled is None:
            sampled = sample(model, 20, torch.Generator().manual_seed(seed))
            print("sampled:", " ".join(sampled), flush=True)
    doc = {
        "held_out_bpc": round(sum(r["held_out_bpc"] for r in runs) / len(runs), 5),
        "runs": runs,
        "settings": {
            "vocab": VOCAB, "embedding": EMBED, "hidden": HIDDEN, "batch": BATCH, "optimizer": "Adam", "lr": LR,
            "schedule": "cosine to 0 per step", "epochs": EPOCHS, "split_seed": SEED, "held_out_fraction": HELD_OUT,
        },
        "train_words": len(train_words),
        "held_out_words": len(held_out),
        "held_out_characters": sum(len(w) + 1 for w in held_out),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "sampled": sampled,
    }
    (OUT / "words_lm.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"held-out bits per character: {doc['held_out_bpc']:.4f} (mean of {len(runs)} seeds)")
    print(f"wrote {OUT / 'words_lm.json'}")

if __name__ == "__main__":
    main()
