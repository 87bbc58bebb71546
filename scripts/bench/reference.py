"""PyTorch references for `npm run bench`, same workloads, batch size and thread count as the addon, in three styles:
  usual       (a) the usual adversarial training scripts: robust_overfitting's attack_pgd / train loop, fp32, eager
              (loss.backward() in the attack also fills weight gradients);
  input-only  (b) torchattacks-style: torch.autograd.grad with respect to the input only, fp32, eager;
  best        (c) what a careful PyTorch user does: input-only gradients with the weights frozen during the attack,
              bf16 autocast (where --precision says so), channels_last, and torch.compile with --compile.
Prints one JSON object on stdout.

usage: reference.py WORKLOAD --arch smallcnn|preact-resnet18 --images N --batch B --threads T [--style S]
                    [--precision fp32|bf16] [--memory-format contiguous|channels_last] [--compile]
                    [--device cpu|cuda] [--data FILE.u8 --labels FILE.i32] [--warmup N] [--repeats N]
"""
import contextlib
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'reference'))
from models import build_model  # noqa: E402  (the documented PyTorch definitions of our architectures)


def attack_pgd(model, X, y, epsilon, alpha, attack_iters):
    """robust_overfitting's attack_pgd (Linf, one restart, no early stop): loss.backward() fills weight
    gradients too, as the usual scripts do."""
    delta = torch.zeros_like(X).uniform_(-epsilon, epsilon)
    delta = torch.clamp(delta, 0 - X, 1 - X)
    delta.requires_grad = True
    for _ in range(attack_iters):
        output = model(X + delta)
        loss = F.cross_entropy(output, y)
        loss.backward()
        grad = delta.grad.detach()
        d = torch.clamp(delta + alpha * torch.sign(grad), -epsilon, epsilon)
        d = torch.clamp(d, 0 - X, 1 - X)
        delta.data = d
        delta.grad.zero_()
    return delta.detach()


def attack_input_only(model, X, y, epsilon, alpha, attack_iters):
    """torchattacks' PGD: the gradient of the loss with respect to the input only (torch.autograd.grad)."""
    delta = torch.zeros_like(X).uniform_(-epsilon, epsilon)
    delta = torch.clamp(delta, 0 - X, 1 - X)
    for _ in range(attack_iters):
        delta.requires_grad_(True)
        loss = F.cross_entropy(model(X + delta).float(), y)
        grad = torch.autograd.grad(loss, [delta])[0]
        delta = torch.clamp(delta.detach() + alpha * torch.sign(grad), -epsilon, epsilon)
        delta = torch.clamp(delta, 0 - X, 1 - X)
    return delta.detach()


@contextlib.contextmanager
def frozen(model):
    """No weight-gradient graph at all while attacking (what the addon does)."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    for p in parameters:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in parameters:
            p.requires_grad_(True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('workload', choices=['pgd-attack', 'pgd-train', 'pgd-eval'])
    parser.add_argument('--arch', required=True)
    parser.add_argument('--images', type=int, required=True)
    parser.add_argument('--batch', type=int, required=True)
    parser.add_argument('--threads', type=int, required=True)
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--eps', type=float, default=8 / 255)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--data')
    parser.add_argument('--labels')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--style', choices=['usual', 'input-only', 'best'], default='usual')
    parser.add_argument('--precision', choices=['fp32', 'bf16'], default='fp32')
    parser.add_argument('--memory-format', choices=['contiguous', 'channels_last'], default='contiguous')
    parser.add_argument('--compile', action='store_true')
    args = parser.parse_args()
    if args.style != 'best' and (args.precision != 'fp32' or args.memory_format != 'contiguous' or args.compile):
        parser.error('--precision, --memory-format and --compile apply to --style best only')

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    channels, size = (1, 28) if args.arch == 'smallcnn' else (3, 32)
    if args.data:
        raw = open(args.data, 'rb').read()
        X = torch.frombuffer(bytearray(raw), dtype=torch.uint8).float().div(255).view(-1, channels, size, size)
        y = torch.frombuffer(bytearray(open(args.labels, 'rb').read()), dtype=torch.int32).long()
        X, y = X[: args.images], y[: args.images]
    else:
        X = torch.rand(args.images, channels, size, size)
        y = torch.randint(0, 10, (args.images,))
    X, y = X.to(device), y.to(device)
    model = build_model({'architecture': args.arch, 'inputShape': [channels, size, size],
                         'classNames': [str(k) for k in range(10)], 'mean': [0.5] * channels,
                         'std': [0.25] * channels}).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    alpha = 2.5 * args.eps / args.steps
    channels_last = args.memory_format == 'channels_last'
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        X = X.contiguous(memory_format=torch.channels_last)
    forward = torch.compile(model) if args.compile else model
    autocast = ((lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if args.precision == 'bf16'
                else contextlib.nullcontext)

    def attack(xb, yb):
        if args.style == 'usual':
            return attack_pgd(forward, xb, yb, args.eps, alpha, args.steps)
        if args.style == 'input-only':
            return attack_input_only(forward, xb, yb, args.eps, alpha, args.steps)
        with frozen(model), autocast():
            return attack_input_only(forward, xb, yb, args.eps, alpha, args.steps)

    def one_pass():
        for start in range(0, args.images, args.batch):
            xb, yb = X[start:start + args.batch], y[start:start + args.batch]
            if args.workload == 'pgd-train':
                model.train()
                delta = attack(xb, yb)
                with autocast():
                    output = forward(torch.clamp(xb + delta, 0, 1))
                loss = F.cross_entropy(output.float(), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
            else:
                model.eval()
                delta = attack(xb, yb)
                with torch.no_grad(), autocast():
                    forward(xb + delta).argmax(1)
                    if args.workload == 'pgd-eval':
                        forward(xb).argmax(1)
        if device.type == 'cuda':
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        one_pass()
    passes = []  # (seconds, wall-clock window in ms since the epoch, for ceiling.js)
    for _ in range(args.repeats):
        started_ms, started = time.time() * 1000, time.perf_counter()
        one_pass()
        passes.append((time.perf_counter() - started, [started_ms, time.time() * 1000]))
    seconds, window = sorted(passes)[len(passes) // 2]
    peak = (torch.cuda.max_memory_allocated() if device.type == 'cuda'
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    print(json.dumps({'workload': args.workload, 'arch': args.arch, 'images': args.images, 'seconds': seconds, 'window': window,
                      'imagesPerSecond': args.images / seconds, 'peakBytes': peak,
                      'torch': torch.__version__, 'threads': torch.get_num_threads(), 'style': args.style,
                      'precision': args.precision, 'memoryFormat': args.memory_format, 'compile': args.compile}))


if __name__ == '__main__':
    main()
