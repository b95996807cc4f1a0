#!/usr/bin/python3
"""PyTorch reference for `npm run bench:engine`: SE-Inception v3 with the Keras InceptionV3 topology.

Same architecture as @setrain/model's buildSeInceptionV3 (seed placement, "top"): convolutions without
bias, BatchNormalization with beta only (eps 1e-3, momentum 0.99 in Keras terms), ReLU; Keras
padding ('valid' stems, 'same' elsewhere, average pools that exclude padding); SE head GAP ->
Dense(2048 // ratio, relu) -> Dense(2048, sigmoid) -> multiply -> GAP -> Dropout -> Dense(classes,
sigmoid). Trains with Adam on binary cross-entropy, like the TypeScript side.

Usage: /usr/bin/python3 pytorch_se_inception_v3.py --size 75 --batch 8 --threads 1 --steps 5
Prints one JSON line: {"imgPerSec": ..., "stepMs": [...], "peakRssMiB": ..., "params": ...}.
Needs Debian's python3-torch (1.13, oneDNN) for /usr/bin/python3.
"""
import argparse
import json
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class ScaleFreeBatchNorm(nn.Module):
    """Keras BatchNormalization(scale=False): beta plus moving mean/variance, no gamma."""

    def __init__(self, channels):
        super().__init__()
        self.beta = nn.Parameter(torch.zeros(channels))
        self.register_buffer("moving_mean", torch.zeros(channels))
        self.register_buffer("moving_variance", torch.ones(channels))

    def forward(self, x):
        return F.batch_norm(x, self.moving_mean, self.moving_variance, None, self.beta,
                            self.training, 0.01, 1e-3)


class ConvBn(nn.Module):
    def __init__(self, cin, cout, kh, kw, stride=1, padding="same"):
        super().__init__()
        pad = (0, 0) if padding == "valid" else ((kh - 1) // 2, (kw - 1) // 2)
        self.conv = nn.Conv2d(cin, cout, (kh, kw), stride=stride, padding=pad, bias=False)
        self.bn = ScaleFreeBatchNorm(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def avg_pool_same(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class Mixed35(nn.Module):
    def __init__(self, cin, pool_features):
        super().__init__()
        self.b1 = ConvBn(cin, 64, 1, 1)
        self.b5_1, self.b5_2 = ConvBn(cin, 48, 1, 1), ConvBn(48, 64, 5, 5)
        self.b3_1, self.b3_2, self.b3_3 = ConvBn(cin, 64, 1, 1), ConvBn(64, 96, 3, 3), ConvBn(96, 96, 3, 3)
        self.bp = ConvBn(cin, pool_features, 1, 1)

    def forward(self, x):
        return torch.cat([self.b1(x), self.b5_2(self.b5_1(x)), self.b3_3(self.b3_2(self.b3_1(x))),
                          self.bp(avg_pool_same(x))], 1)


class Mixed3(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.b3 = ConvBn(cin, 384, 3, 3, 2, "valid")
        self.d1, self.d2, self.d3 = ConvBn(cin, 64, 1, 1), ConvBn(64, 96, 3, 3), ConvBn(96, 96, 3, 3, 2, "valid")

    def forward(self, x):
        return torch.cat([self.b3(x), self.d3(self.d2(self.d1(x))), F.max_pool2d(x, 3, 2)], 1)


class Mixed17(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        self.b1 = ConvBn(cin, 192, 1, 1)
        self.b7 = nn.Sequential(ConvBn(cin, c, 1, 1), ConvBn(c, c, 1, 7), ConvBn(c, 192, 7, 1))
        self.d7 = nn.Sequential(ConvBn(cin, c, 1, 1), ConvBn(c, c, 7, 1), ConvBn(c, c, 1, 7),
                                ConvBn(c, c, 7, 1), ConvBn(c, 192, 1, 7))
        self.bp = ConvBn(cin, 192, 1, 1)

    def forward(self, x):
        return torch.cat([self.b1(x), self.b7(x), self.d7(x), self.bp(avg_pool_same(x))], 1)


class Mixed8(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.b3 = nn.Sequential(ConvBn(cin, 192, 1, 1), ConvBn(192, 320, 3, 3, 2, "valid"))
        self.b7 = nn.Sequential(ConvBn(cin, 192, 1, 1), ConvBn(192, 192, 1, 7), ConvBn(192, 192, 7, 1),
                                ConvBn(192, 192, 3, 3, 2, "valid"))

    def forward(self, x):
        return torch.cat([self.b3(x), self.b7(x), F.max_pool2d(x, 3, 2)], 1)


class Mixed8x8(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.b1 = ConvBn(cin, 320, 1, 1)
        self.b3 = ConvBn(cin, 384, 1, 1)
        self.b3a, self.b3b = ConvBn(384, 384, 1, 3), ConvBn(384, 384, 3, 1)
        self.d1, self.d2 = ConvBn(cin, 448, 1, 1), ConvBn(448, 384, 3, 3)
        self.d3a, self.d3b = ConvBn(384, 384, 1, 3), ConvBn(384, 384, 3, 1)
        self.bp = ConvBn(cin, 192, 1, 1)

    def forward(self, x):
        b3 = self.b3(x)
        d = self.d2(self.d1(x))
        return torch.cat([self.b1(x), self.b3a(b3), self.b3b(b3), self.d3a(d), self.d3b(d),
                          self.bp(avg_pool_same(x))], 1)


class SeInceptionV3(nn.Module):
    def __init__(self, num_classes=10, se_ratio=11, dropout=0.6):
        super().__init__()
        self.stem = nn.ModuleList([ConvBn(3, 32, 3, 3, 2, "valid"), ConvBn(32, 32, 3, 3, 1, "valid"),
                                   ConvBn(32, 64, 3, 3), ConvBn(64, 80, 1, 1, 1, "valid"),
                                   ConvBn(80, 192, 3, 3, 1, "valid")])
        self.blocks = nn.Sequential(Mixed35(192, 32), Mixed35(256, 64), Mixed35(288, 64), Mixed3(288),
                                    Mixed17(768, 128), Mixed17(768, 160), Mixed17(768, 160),
                                    Mixed17(768, 192), Mixed8(768), Mixed8x8(1280), Mixed8x8(2048))
        units = max(1, 2048 // se_ratio)
        self.se_reduce = nn.Linear(2048, units)
        self.se_expand = nn.Linear(units, 2048)
        self.dropout = nn.Dropout(dropout)
        self.predictions = nn.Linear(2048, num_classes)

    def forward(self, pixels):
        x = pixels / 127.5 - 1.0
        s = self.stem
        x = s[2](s[1](s[0](x)))
        x = F.max_pool2d(x, 3, 2)
        x = s[4](s[3](x))
        x = F.max_pool2d(x, 3, 2)
        x = self.blocks(x)
        gates = torch.sigmoid(self.se_expand(F.relu(self.se_reduce(x.mean((2, 3))))))
        x = x * gates[:, :, None, None]
        return torch.sigmoid(self.predictions(self.dropout(x.mean((2, 3)))))


def count_params(model):
    """Weights plus moving statistics, the way Keras' count_params() counts them."""
    buffers = sum(b.numel() for n, b in model.named_buffers() if n.endswith(("moving_mean", "moving_variance")))
    return sum(p.numel() for p in model.parameters()) + buffers


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=75)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-4)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = SeInceptionV3(args.classes)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, eps=1e-7)
    x = torch.rand(args.batch, 3, args.size, args.size) * 255
    y = (torch.rand(args.batch, args.classes) > 0.5).float()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.binary_cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    median = sorted(times)[len(times) // 2]
    print(json.dumps({
        "engine": "pytorch",
        "version": torch.__version__,
        "size": args.size,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "stepMs": [round(t, 1) for t in times],
        "imgPerSec": round(args.batch * 1000 / median, 2),
        "peakRssMiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "params": count_params(model),
    }))


if __name__ == "__main__":
    main()
