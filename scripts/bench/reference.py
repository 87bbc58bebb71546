"""PyTorch eager reference for `npm run bench`: the same workloads written the way the usual adversarial
training scripts write them (robust_overfitting's attack_pgd / train loop, fp32, eager), same batch size and
thread count. Prints one JSON object per workload on stdout.

usage: reference.py WORKLOAD --arch smallcnn|preact-resnet18 --images N --batch B --threads T
                    [--device cpu|cuda] [--data FILE.u8 --labels FILE.i32] [--warmup N] [--repeats N]
"""
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
    args = parser.parse_args()

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

    def one_pass():
        for start in range(0, args.images, args.batch):
            xb, yb = X[start:start + args.batch], y[start:start + args.batch]
            if args.workload == 'pgd-train':
                model.train()
                delta = attack_pgd(model, xb, yb, args.eps, alpha, args.steps)
                output = model(torch.clamp(xb + delta, 0, 1))
                loss = F.cross_entropy(output, yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
            else:
                model.eval()
                delta = attack_pgd(model, xb, yb, args.eps, alpha, args.steps)
                with torch.no_grad():
                    model(xb + delta).argmax(1)
                    if args.workload == 'pgd-eval':
                        model(xb).argmax(1)
        if device.type == 'cuda':
            torch.cuda.synchronize()

    for _ in range(args.warmup):
        one_pass()
    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        one_pass()
        times.append(time.perf_counter() - started)
    seconds = sorted(times)[len(times) // 2]
    peak = (torch.cuda.max_memory_allocated() if device.type == 'cuda'
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    print(json.dumps({'workload': args.workload, 'arch': args.arch, 'images': args.images, 'seconds': seconds,
                      'imagesPerSecond': args.images / seconds, 'peakBytes': peak,
                      'torch': torch.__version__, 'threads': torch.get_num_threads()}))


if __name__ == '__main__':
    main()
