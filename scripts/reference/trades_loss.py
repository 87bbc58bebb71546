"""Per-class TRADES loss of a classwise-at checkpoint on a split, computed by PyTorch: WAT's Hedge input.

    python3 scripts/reference/trades_loss.py CHECKPOINT IMAGES LABELS --eps 0.1 --steps 10 --step-size 0.025 \
        [--seed 0] [--batch-size 256]

IMAGES holds raw little-endian float32 pixels in [0, 1], N x C x H x W; LABELS N little-endian int32 labels.
Prints JSON {counts, meanLoss, meanTradesKl}: per class, the mean clean cross-entropy and the mean
KL(p(x) || p(x')) with x' from TRADES' inner maximisation (Linf PGD on the KL from x + N(0, 0.001^2), in eval
mode), in the addon's order of operations (native/training.cc TradesAdversarial, native/class_stats.cc). Batch
b's start noise is drawn from torch.Generator().manual_seed(s) with s the addon's seed for that batch, so both
sides start from the same noise.
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_model import read_raw  # noqa: E402
from models import load_classwise_checkpoint  # noqa: E402

THREADS = 2
# native/training.cc kTradesStartScale and native/class_stats.cc kTradesNoiseSalt.
START_SCALE = 0.001
NOISE_SALT = 0x7A3D5E11
MASK = (1 << 64) - 1


def batch_noise_seed(seed, batch):
    """native/class_stats.cc BatchNoiseSeed: batch 0 keeps the seed, later batches mix it with b (splitmix64)."""
    if batch == 0:
        return seed
    z = (seed + batch * 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return (z ^ (z >> 31)) >> 1


def project(images, delta, eps):
    delta = delta.clamp(-eps, eps)
    return (images + delta).clamp(0.0, 1.0) - images


def trades_adversarial(model, images, eps, steps, step_size, generator):
    with torch.no_grad():
        clean = torch.softmax(model(images), 1)
    noise = torch.empty_like(images).normal_(0.0, START_SCALE, generator=generator)
    delta = project(images, noise, eps)
    for _ in range(steps):
        delta.requires_grad_(True)
        kl = F.kl_div(torch.log_softmax(model(images + delta), 1), clean, reduction="sum")
        (grad,) = torch.autograd.grad(kl, [delta])
        with torch.no_grad():
            delta = project(images, delta.detach() + step_size * grad.sign(), eps)
    return (images + delta.detach()).clamp(0.0, 1.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("images")
    parser.add_argument("labels")
    parser.add_argument("--eps", type=float, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--step-size", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0, help="the evaluation's seed (evaluate options.seed)")
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    torch.set_num_threads(THREADS)
    model, meta = load_classwise_checkpoint(args.checkpoint)
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    channels, height, width = meta["config"]["model"]["inputShape"]
    classes = len(meta["config"]["model"]["classNames"])
    images = read_raw(args.images, torch.float32).view(-1, channels, height, width)
    labels = read_raw(args.labels, torch.int32).long()
    counts = torch.zeros(classes, dtype=torch.float64)
    loss_sum = torch.zeros(classes, dtype=torch.float64)
    kl_sum = torch.zeros(classes, dtype=torch.float64)
    for batch, start in enumerate(range(0, images.shape[0], args.batch_size)):
        x, y = images[start : start + args.batch_size], labels[start : start + args.batch_size]
        generator = torch.Generator().manual_seed(batch_noise_seed(args.seed ^ NOISE_SALT, batch))
        adversarial = trades_adversarial(model, x, args.eps, args.steps, args.step_size, generator)
        with torch.no_grad():
            logits = model(x)
            kl = F.kl_div(torch.log_softmax(model(adversarial), 1), torch.softmax(logits, 1), reduction="none").sum(1)
            loss_sum.index_add_(0, y, F.cross_entropy(logits, y, reduction="none").double())
            kl_sum.index_add_(0, y, kl.double())
            counts.index_add_(0, y, torch.ones_like(y, dtype=torch.float64))
    safe = counts.clamp_min(1)
    print(json.dumps({"counts": counts.tolist(), "meanLoss": (loss_sum / safe).tolist(), "meanTradesKl": (kl_sum / safe).tolist()}))


if __name__ == "__main__":
    main()
