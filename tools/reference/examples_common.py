"""What sunspots.py and words_lm.py, the scripts whose models nn's examples
train the same way, share: the training (Adam, its learning rate annealed to
0 along a cosine over every step of the run: torch's CosineAnnealingLR stepped
after each batch, T_max = the run's steps, as nn's
Trainer::schedule_per_step(Schedule::Cosine { t_max, eta_min: 0.0 })), and
how --select writes the runs it tried and the best of them.
"""

import json

import torch


def train(make_model, epoch_batches, batch_loss, steps_per_epoch, lr, epochs, seed):
    """Seeds torch (the initialization) and a generator (the batch order) with
    seed, builds make_model(), and trains it for epochs: epoch_batches(g) gives
    an epoch's batches (steps_per_epoch of them), batch_loss(model, batch) a
    batch's mean loss. Returns the model in evaluation mode."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch, eta_min=0.0)
    for _ in range(epochs):
        for b in epoch_batches(g):
            opt.zero_grad()
            batch_loss(model, b).backward()
            opt.step()
            cosine.step()
    return model.eval()


def write_selection(path, about, runs, score):
    """Writes to path the JSON of about (what the runs were scored on), the
    runs, the best of them (the lowest run[score]) and torch's threads, and
    prints the best."""
    doc = {**about, "runs": runs, "best": min(runs, key=lambda r: r[score]), "threads": torch.get_num_threads()}
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print("best", doc["best"])
