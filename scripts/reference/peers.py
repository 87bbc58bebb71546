"""Runs a peer library's attack on a classwise-at checkpoint: torchattacks or fra31's AutoAttack (pyautoattack).

The test suite (test/peers/) and the AutoAttack bench (scripts/bench/autoattack.js) call it with the images and
labels they attack natively, and compare the predictions on the adversarial images.

    python peers.py CHECKPOINT IMAGES.f32 LABELS.i32 --library autoattack --attack fab-t --eps 0.1 --out-dir DIR

writes DIR/predictions.i32 (the model's class for each adversarial image, int32), DIR/adversarial.f32 and
DIR/summary.json (robust accuracy, seconds spent in the attack, settings). Images are raw float32 N x C x H x W in
[0, 1] (the shape comes from the checkpoint), labels raw int32.

Settings follow the standard AutoAttack unless overridden: APGD 100 steps, APGD-T and FAB-T 9 target classes
(all others when fewer), Square 5000 queries with p_init 0.8. `--schedule rescaled|autoattack` picks Square's
p schedule (resc_schedule True / False).
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import load_classwise_checkpoint  # noqa: E402

ATTACKS = ["pgd", "apgd-ce", "apgd-t", "fab-t", "square", "autoattack"]


def read_raw(path, dtype):
    raw = bytearray(open(path, "rb").read())
    return torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)


def run_torchattacks(model, x, y, args, n_classes):
    import torchattacks

    targets = min(args.target_classes, n_classes - 1)
    seed = args.seed

    def apgd():
        return torchattacks.APGD(model, norm="Linf", eps=args.eps, steps=args.steps, n_restarts=1, seed=seed, loss="ce")

    def apgdt():
        # torchattacks targets all n_classes - 1 other classes: pass targets + 1 as n_classes.
        return torchattacks.APGDT(model, norm="Linf", eps=args.eps, steps=args.steps, n_restarts=1, seed=seed,
                                  n_classes=targets + 1)

    def fabt():
        return torchattacks.FAB(model, norm="Linf", eps=args.eps, steps=args.steps, n_restarts=1, seed=seed,
                                multi_targeted=True, n_classes=targets + 1)

    def square():
        return torchattacks.Square(model, norm="Linf", eps=args.eps, n_queries=args.queries, n_restarts=args.restarts,
                                   p_init=0.8, loss="margin", resc_schedule=args.schedule == "rescaled", seed=seed)

    if args.attack == "pgd":
        attack = torchattacks.PGD(model, eps=args.eps, alpha=args.step_size, steps=args.steps, random_start=True)
    elif args.attack == "apgd-ce":
        attack = apgd()
    elif args.attack == "apgd-t":
        attack = apgdt()
    elif args.attack == "fab-t":
        attack = fabt()
    elif args.attack == "square":
        attack = square()
    else:
        # torchattacks.AutoAttack('standard') runs its attacks with their own defaults (10 steps for APGD, APGD-T and
        # FAB, Square with the rescaled schedule); the standard cascade's settings are built here explicitly.
        attack = torchattacks.MultiAttack([apgd(), apgdt(), fabt(), square()])
    return attack(x, y)


def run_autoattack(model, x, y, args, n_classes):
    from pyautoattack import AutoAttack
    from pyautoattack.autopgd_base import APGDAttack, APGDAttack_targeted
    from pyautoattack.fab_pt import FABAttack_PT
    from pyautoattack.square import SquareAttack

    targets = min(args.target_classes, n_classes - 1)
    seed = args.seed
    if args.attack == "apgd-ce":
        attack = APGDAttack(model, n_restarts=1, n_iter=args.steps, eps=args.eps, norm="Linf", loss="ce", seed=seed,
                            device="cpu")
        return attack.perturb(x, y)
    if args.attack == "apgd-t":
        attack = APGDAttack_targeted(model, n_restarts=1, n_iter=args.steps, eps=args.eps, norm="Linf", seed=seed,
                                     device="cpu", n_target_classes=targets)
        return attack.perturb(x, y)
    if args.attack == "fab-t":
        attack = FABAttack_PT(model, n_restarts=1, n_iter=args.steps, eps=args.eps, norm="Linf", seed=seed,
                              targeted=True, n_target_classes=targets, device="cpu")
        return attack.perturb(x, y)
    if args.attack == "square":
        attack = SquareAttack(model, p_init=0.8, n_queries=args.queries, eps=args.eps, norm="Linf",
                              n_restarts=args.restarts, seed=seed, device="cpu",
                              resc_schedule=args.schedule == "rescaled")
        return attack.perturb(x, y)
    if args.attack == "autoattack":
        adversary = AutoAttack(model, norm="Linf", eps=args.eps, seed=seed, device="cpu", version="standard")
        # The standard version's settings, then the test's budget where it asks for less.
        adversary.apgd.n_iter = args.steps
        adversary.apgd_targeted.n_iter = args.steps
        adversary.apgd_targeted.n_target_classes = targets
        adversary.fab.n_iter = args.steps
        adversary.fab.n_target_classes = targets
        adversary.square.n_queries = args.queries
        adversary.square.resc_schedule = args.schedule == "rescaled"
        x_adv, _ = adversary.run_standard_evaluation(x, y, batch_size=args.batch_size)
        return x_adv
    raise SystemExit(f"--library autoattack has no {args.attack}; use torchattacks for pgd")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("images")
    parser.add_argument("labels")
    parser.add_argument("--library", choices=["torchattacks", "autoattack"], required=True)
    parser.add_argument("--attack", choices=ATTACKS, required=True)
    parser.add_argument("--eps", type=float, required=True)
    parser.add_argument("--steps", type=int, default=100, help="PGD, APGD and FAB iterations (standard: 100)")
    parser.add_argument("--step-size", type=float, help="PGD step (default 2.5 eps / steps)")
    parser.add_argument("--queries", type=int, default=5000, help="Square queries (standard: 5000)")
    parser.add_argument("--restarts", type=int, default=1, help="Square restarts")
    parser.add_argument("--schedule", choices=["rescaled", "autoattack"], default="autoattack",
                        help="Square's p schedule: rescaled to the queries, or AutoAttack's fixed one (standard)")
    parser.add_argument("--target-classes", type=int, default=9)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--out-dir", required=True)
    args = parser.parse_args()
    if args.step_size is None:
        args.step_size = 2.5 * args.eps / max(1, args.steps)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    model, meta = load_classwise_checkpoint(args.checkpoint)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    model_config = meta["config"]["model"]
    shape = list(model_config["inputShape"])
    n_classes = len(model_config["classNames"])
    x = read_raw(args.images, torch.float32).reshape([-1, *shape])
    y = read_raw(args.labels, torch.int32).long()

    start = time.perf_counter()
    run = run_torchattacks if args.library == "torchattacks" else run_autoattack
    chunks = []
    for begin in range(0, x.shape[0], args.batch_size):
        if args.library == "autoattack" and args.attack == "autoattack":
            chunks = [run(model, x, y, args, n_classes)]
            break
        chunks.append(run(model, x[begin:begin + args.batch_size], y[begin:begin + args.batch_size], args, n_classes))
    x_adv = torch.cat(chunks).detach()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        predictions = torch.cat([model(x_adv[i:i + args.batch_size]).argmax(1)
                                 for i in range(0, x_adv.shape[0], args.batch_size)])
    linf = (x_adv - x).abs().flatten(1).amax(1).max().item() if x.shape[0] else 0.0

    os.makedirs(args.out_dir, exist_ok=True)
    predictions.to(torch.int32).numpy().tofile(os.path.join(args.out_dir, "predictions.i32"))
    x_adv.numpy().tofile(os.path.join(args.out_dir, "adversarial.f32"))
    summary = {
        "library": args.library,
        "attack": args.attack,
        "examples": int(x.shape[0]),
        "robustAccuracy": float((predictions == y).float().mean().item()) if x.shape[0] else 0.0,
        "seconds": seconds,
        "maxLinf": linf,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "settings": {"eps": args.eps, "steps": args.steps, "queries": args.queries, "restarts": args.restarts,
                     "schedule": args.schedule, "targetClasses": args.target_classes, "seed": args.seed},
    }
    with open(os.path.join(args.out_dir, "summary.json"), "w", encoding="utf-8") as out:
        json.dump(summary, out, indent=1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
