"""Reference outputs of a classwise-at checkpoint computed by PyTorch, to compare with the native addon.

    /usr/bin/python3 scripts/reference/check_model.py CHECKPOINT IMAGES LABELS --out-dir DIR [--eps 0.1] [--logits]

IMAGES holds raw little-endian float32 pixels in [0, 1], N x C x H x W with (C, H, W) the checkpoint's
config.model.inputShape; LABELS holds N little-endian int32 labels. Written to DIR, all raw little-endian:

    clean_predictions.i32   argmax of the clean logits, N int32
    fgsm_images.f32         with --eps: FGSM (Linf, no random start) images, N x C x H x W float32
    fgsm_predictions.i32    with --eps: argmax of the logits of the FGSM images, N int32
    clean_logits.f32        with --logits: N x classes float32
    summary.json            architecture, tensors loaded and dropped (optimizer.*), parameter count, N

The model is loaded with load_state_dict(strict=True), so a checkpoint whose names differ from the
definitions in models.py fails here with PyTorch's list of missing and unexpected keys.
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import OPTIMIZER_PREFIX, load_classwise_checkpoint, read_safetensors_header  # noqa: E402

# SGD momentum buffers are saved as this prefix + the parameter's name.
MOMENTUM_PREFIX = OPTIMIZER_PREFIX + "momentum."
# Leave cores to other work; results do not depend on it.
THREADS = 2
# Same as the addon's default batch of attack and evaluate.
BATCH_SIZE = 256


def read_raw(path, dtype):
    with open(path, "rb") as file:
        raw = bytearray(file.read())
    return torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)


def write_raw(path, tensor):
    raw = bytearray(tensor.numel() * tensor.element_size())
    if raw:
        # Copy through a tensor over the bytearray: no numpy needed.
        torch.frombuffer(raw, dtype=tensor.dtype).copy_(tensor.detach().reshape(-1))
    with open(path, "wb") as file:
        file.write(raw)


def fgsm(model, images, labels, eps):
    """One Linf step of size eps from the clean image, in the addon's order of operations (native/attacks.cc)."""
    delta = torch.zeros_like(images, requires_grad=True)
    loss = F.cross_entropy(model(images + delta), labels, reduction="sum")
    (grad,) = torch.autograd.grad(loss, [delta])
    with torch.no_grad():
        delta = (delta + eps * grad.sign()).clamp(-eps, eps)
        delta = (images + delta).clamp(0.0, 1.0) - images
        return (images + delta).clamp(0.0, 1.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("images", help="raw float32 N x C x H x W, pixels in [0, 1]")
    parser.add_argument("labels", help="raw int32 N")
    parser.add_argument("--eps", type=float, help="FGSM Linf budget in pixels, e.g. 0.1; omit to skip FGSM")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--logits", action="store_true", help="also write clean_logits.f32")
    args = parser.parse_args()

    torch.set_num_threads(THREADS)
    model, meta = load_classwise_checkpoint(args.checkpoint)
    model_config = meta["config"]["model"]
    channels, height, width = model_config["inputShape"]
    images = read_raw(args.images, torch.float32)
    labels = read_raw(args.labels, torch.int32).long()
    pixels = channels * height * width
    if images.numel() % pixels != 0 or images.numel() // pixels != labels.numel():
        sys.exit(f"{args.images} holds {images.numel()} floats and {args.labels} {labels.numel()} labels; "
                 f"expected N x {channels} x {height} x {width} floats for N labels")
    images = images.view(-1, channels, height, width)

    # Model parameters take no gradient: FGSM needs the input gradient only.
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    logits, adversarial, adversarial_predictions = [], [], []
    for start in range(0, images.shape[0], BATCH_SIZE):
        batch, batch_labels = images[start : start + BATCH_SIZE], labels[start : start + BATCH_SIZE]
        with torch.no_grad():
            logits.append(model(batch))
        if args.eps is not None:
            adversarial.append(fgsm(model, batch, batch_labels, args.eps))
            with torch.no_grad():
                adversarial_predictions.append(model(adversarial[-1]).argmax(1))
    logits = torch.cat(logits) if logits else torch.empty(0, len(model_config["classNames"]))

    os.makedirs(args.out_dir, exist_ok=True)
    write_raw(os.path.join(args.out_dir, "clean_predictions.i32"), logits.argmax(1).int())
    if args.logits:
        write_raw(os.path.join(args.out_dir, "clean_logits.f32"), logits.float())
    if args.eps is not None:
        adversarial = torch.cat(adversarial) if adversarial else torch.empty(0, channels, height, width)
        predictions = torch.cat(adversarial_predictions) if adversarial_predictions else torch.empty(0)
        write_raw(os.path.join(args.out_dir, "fgsm_images.f32"), adversarial.float())
        write_raw(os.path.join(args.out_dir, "fgsm_predictions.i32"), predictions.int())
    names = [name for name in read_safetensors_header(args.checkpoint) if name != "__metadata__"]
    momentum_names = [name for name in names if name.startswith(MOMENTUM_PREFIX)]
    parameter_names = {name for name, _ in model.named_parameters()}
    summary = {
        "architecture": model_config["architecture"],
        "loadedTensors": sum(1 for name in names if not name.startswith(OPTIMIZER_PREFIX)),
        "stateDictEntries": len(model.state_dict()),
        "optimizerTensors": sum(1 for name in names if name.startswith(OPTIMIZER_PREFIX)),
        "parameters": len(parameter_names),
        # Momentum buffers whose suffix is not a parameter name of the PyTorch model (expected: none).
        "momentumWithoutParameter": [n for n in momentum_names if n[len(MOMENTUM_PREFIX) :] not in parameter_names],
        "examples": images.shape[0],
    }
    with open(os.path.join(args.out_dir, "summary.json"), "w") as file:
        json.dump(summary, file)


if __name__ == "__main__":
    main()
