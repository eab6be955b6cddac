"""safetensors interchange between nn and PyTorch, both directions.

PyTorch -> nn: builds the PyTorch equivalents of four networks (an MLP
with batch_norm, a residual block with projection, an LSTM sequence network, a
convolutional network with BatchNorm2d and pooling), gives them
running statistics with a few training-mode batches, and writes
  out/torch_{mlp,resnet,lstm,cnn}.safetensors      model.state_dict(), as safetensors.torch.save_file
  out/torch_{mlp,resnet,lstm,cnn}_io.safetensors   x [batch, in] and eval outputs y [batch, out], F64
which tests/safetensors_interop.rs loads into the equivalent `network!` networks.
The files stay here, beside the root package's tests that read them.

nn -> PyTorch: loads out/nn_{mlp,resnet,lstm,cnn}.safetensors (written by those tests with
NN_WRITE_REFERENCE=1) with load_state_dict(strict=True) and checks PyTorch's eval
outputs against ours in out/nn_{mlp,resnet,lstm,cnn}_io.safetensors, to 1e-5.

Rerun (from the repository root):
  python tools/reference/safetensors_interop.py
  NN_WRITE_REFERENCE=1 cargo test --test safetensors_interop committed
  python tools/reference/safetensors_interop.py
Everything is seeded, so the torch_* tensors come out the same each time.
"""

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

OUT = Path(__file__).parent / "out"


class Residual(nn.Module):
    """y = projection(x) + body(x): the state_dict names of nn's
    `residual(projection) { ... }` at index i, `{i}.{j}.weight` for body item j
    and `{i}.projection.weight`. The body items are registered on this module
    itself (not inside a nested nn.Sequential, which would add a `.body` level)."""

    def __init__(self, *body, projection):
        super().__init__()
        for i, m in enumerate(body):
            self.add_module(str(i), m)
        self.depth = len(body)
        self.projection = projection

    def forward(self, x):
        h = x
        for i in range(self.depth):
            h = getattr(self, str(i))(h)
        return self.projection(x) + h


class LstmNet(nn.Module):
    """`seq 3 -> lstm(5), last, dense(2)`: an LSTMCell named 0 run over the steps,
    the last h into a Linear named 2. Input [batch, steps * 3], step-major per sample."""

    def __init__(self):
        super().__init__()
        self.add_module("0", nn.LSTMCell(3, 5))
        self.add_module("2", nn.Linear(5, 2))

    def forward(self, x):
        xs = x.view(x.shape[0], -1, 3)
        h = torch.zeros(x.shape[0], 5, dtype=x.dtype)
        c = torch.zeros_like(h)
        for t in range(xs.shape[1]):
            h, c = getattr(self, "0")(xs[:, t], (h, c))
        return getattr(self, "2")(h)


class GlobalAvgPool(nn.Module):
    """nn's `global_avg_pool`: the mean over height and width, one value per channel
    (AdaptiveAvgPool2d(1) then Flatten, as one item so the indices stay nn's)."""

    def forward(self, x):
        return x.mean(dim=(2, 3))


class Image(nn.Sequential):
    """An nn.Sequential fed nn's layout: one row of C*H*W values per sample, channel-major."""

    def __init__(self, shape, *modules):
        super().__init__(*modules)
        self.shape = shape

    def forward(self, x):
        return super().forward(x.view(x.shape[0], *self.shape))


def cnn(dtype):
    # (2, 6, 6) -> conv2d(4, kernel = 3, padding = 1), batch_norm, relu, max_pool(2),
    #   conv2d(5, kernel = 3, padding = 1, bias = false), batch_norm, relu, global_avg_pool, dense(3)
    return Image(
        (2, 6, 6),
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 5, 3, padding=1, bias=False),
        nn.BatchNorm2d(5),
        nn.ReLU(),
        GlobalAvgPool(),
        nn.Linear(5, 3),
    ).to(dtype)


def mlp(dtype):
    # dense(8), batch_norm, relu, dense(3) on 4 inputs
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3)).to(dtype)


def resnet(dtype):
    # dense(8), relu, residual(projection) { dense(6), relu, dense(6) }, dense(3)
    body = (nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 6))
    return nn.Sequential(
        nn.Linear(4, 8), nn.ReLU(), Residual(*body, projection=nn.Linear(8, 6, bias=False)), nn.Linear(6, 3)
    ).to(dtype)


# name: (builder, dtype, input width per sample)
NETS = {
    "mlp": (mlp, torch.float32, 4),
    "resnet": (resnet, torch.float64, 4),
    "lstm": (lambda dtype: LstmNet().to(dtype), torch.float64, 3 * 4),
    "cnn": (cnn, torch.float64, 2 * 6 * 6),
}


def torch_to_nn(name, seed):
    build, dtype, width = NETS[name]
    torch.manual_seed(seed)
    model = build(dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-1.0, 1.0)
    model.train()
    for _ in range(3):
        model(torch.randn(6, width, dtype=dtype))
    model.eval()
    x = torch.randn(5, width, dtype=torch.float64)
    with torch.no_grad():
        y = model(x.to(dtype)).to(torch.float64)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, OUT / f"torch_{name}.safetensors", metadata={"format": "pt"})
    save_file({"x": x, "y": y}, OUT / f"torch_{name}_io.safetensors")
    print(f"wrote torch_{name}: {', '.join(state)}")


def nn_to_torch(name):
    weights = OUT / f"nn_{name}.safetensors"
    if not weights.exists():
        print(f"skip nn_{name}: run the Rust test with NN_WRITE_REFERENCE=1 first")
        return
    build, dtype, _ = NETS[name]
    model = build(dtype)
    model.load_state_dict(load_file(weights), strict=True)
    model.eval()
    io = load_file(OUT / f"nn_{name}_io.safetensors")
    with torch.no_grad():
        y = model(io["x"].to(dtype)).to(torch.float64)
    err = (y - io["y"]).abs().max().item()
    assert err < 1e-5, f"nn_{name}: PyTorch's outputs differ from ours by {err}"
    print(f"nn_{name}: strict load ok, max |torch - nn| = {err:.3e}")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    for i, name in enumerate(NETS):
        torch_to_nn(name, seed=i)
    for name in NETS:
        nn_to_torch(name)


if __name__ == "__main__":
    main()
