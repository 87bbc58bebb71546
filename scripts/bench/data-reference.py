"""PyTorch reference of scripts/bench/data-throughput.js: 224x224 random-resized crop + flip uint8 batches from an
ImageNet-style train/ folder, PIL decoding and numpy transforms in a torch.utils.data.DataLoader with one worker
per core, timed after the first batch (torchvision's RandomResizedCrop parameters, bilinear resize). Prints one JSON line: {"imagesPerSecond"}.
Usage: python data-reference.py DIR/train WORKERS [SIZE] [BATCH]"""
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
from PIL import Image


class Folder(torch.utils.data.Dataset):
    def __init__(self, root, size):
        self.files = sorted(
            os.path.join(root, wnid, name)
            for wnid in os.listdir(root)
            for name in os.listdir(os.path.join(root, wnid))
        )
        self.size = size

    def __len__(self):
        return len(self.files)

    def crop_box(self, width, height, rng):
        area = width * height
        for _ in range(10):
            target = area * rng.uniform(0.08, 1.0)
            ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
            w = round(math.sqrt(target * ratio))
            h = round(math.sqrt(target / ratio))
            if 0 < w <= width and 0 < h <= height:
                left = rng.randint(0, width - w)
                top = rng.randint(0, height - h)
                return left, top, left + w, top + h
        side = min(width, height)
        return (width - side) // 2, (height - side) // 2, (width + side) // 2, (height + side) // 2

    def __getitem__(self, index):
        rng = random.Random(index)
        with Image.open(self.files[index]) as image:
            image = image.convert("RGB")
            image = image.resize((self.size, self.size), Image.BILINEAR, box=self.crop_box(*image.size, rng))
        pixels = np.asarray(image)
        if rng.random() < 0.5:
            pixels = pixels[:, ::-1]
        return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))), 0


def main():
    root, workers = sys.argv[1], int(sys.argv[2])
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 224
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 32
    loader = torch.utils.data.DataLoader(Folder(root, size), batch_size=batch, shuffle=True, num_workers=workers,
                                         persistent_workers=False, prefetch_factor=4 if workers > 0 else None)
    # Timed from the first batch on, so that the workers' start-up (fork, imports) does not count against it.
    start = None
    done = 0
    for images, _ in loader:
        if start is None:
            start = time.perf_counter()
            continue
        done += images.shape[0]
    print(json.dumps({"imagesPerSecond": done / (time.perf_counter() - start), "workers": workers}))


if __name__ == "__main__":
    main()
