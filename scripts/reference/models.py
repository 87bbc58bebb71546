"""PyTorch twins of the classwise-at native models, and a loader for its safetensors checkpoints.

The state_dict names of these modules equal the tensor names in a checkpoint exactly, so
`load_classwise_checkpoint` loads one with `load_state_dict(strict=True)`. Needs only the Python standard
library and torch (torch.frombuffer: 1.10 or later; tested with Debian's 1.13); no `safetensors` package.

    from models import load_classwise_checkpoint
    model, meta = load_classwise_checkpoint("runs/NAME/checkpoint.safetensors")
    logits = model(images)  # images: float32 N x C x H x W in [0, 1]; normalisation is inside the model
"""
import json
import struct
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

CHECKPOINT_FORMAT = "classwise-at/1"
# Tensors of the optimizer (SGD momentum), not of the network: dropped before load_state_dict.
OPTIMIZER_PREFIX = "optimizer."
SAFETENSORS_DTYPES = {
    "F32": torch.float32,
    "F64": torch.float64,
    "I64": torch.int64,
    "I32": torch.int32,
    "U8": torch.uint8,
}


class Normalize(nn.Module):
    """(x - mean) / std with per-channel buffers, saved as normalize.mean / normalize.std (shape 1,C,1,1)."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


class SmallCNN(nn.Module):
    """TRADES' MNIST network (Zhang et al. 2019) without dropout."""

    def __init__(self, channels=1, num_classes=10, height=28, width=28, mean=(0.0,), std=(1.0,)):
        super().__init__()
        # Two (conv3x3, conv3x3, pool2) stages: each side shrinks by 4 then halves, twice.
        side_h = ((height - 4) // 2 - 4) // 2
        side_w = ((width - 4) // 2 - 4) // 2
        self.normalize = Normalize(mean, std)
        self.feature_extractor = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(channels, 32, 3)),
            ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(32, 32, 3)),
            ("relu2", nn.ReLU()),
            ("maxpool1", nn.MaxPool2d(2)),
            ("conv3", nn.Conv2d(32, 64, 3)),
            ("relu3", nn.ReLU()),
            ("conv4", nn.Conv2d(64, 64, 3)),
            ("relu4", nn.ReLU()),
            ("maxpool2", nn.MaxPool2d(2)),
        ]))
        # TRADES has dropout between fc1 and fc2; classwise-at leaves it out.
        self.classifier = nn.Sequential(OrderedDict([
            ("fc1", nn.Linear(64 * side_h * side_w, 200)),
            ("relu1", nn.ReLU()),
            ("fc2", nn.Linear(200, 200)),
            ("relu2", nn.ReLU()),
            ("fc3", nn.Linear(200, num_classes)),
        ]))

    def forward(self, x):
        return self.classifier(self.feature_extractor(self.normalize(x)).flatten(1))


class PreActBlock(nn.Module):
    """Pre-activation basic block (He et al. 2016) as in Wong et al. 2020 / Rice et al. 2020."""

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False))

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if hasattr(self, "shortcut") else x
        out = self.conv1(out)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + shortcut


class PreActResNet18(nn.Module):
    def __init__(self, channels=3, num_classes=10, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)):
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.conv1 = nn.Conv2d(channels, 64, 3, stride=1, padding=1, bias=False)
        self.in_planes = 64
        self.layer1 = self._make_layer(64, stride=1)
        self.layer2 = self._make_layer(128, stride=2)
        self.layer3 = self._make_layer(256, stride=2)
        self.layer4 = self._make_layer(512, stride=2)
        self.bn = nn.BatchNorm2d(512)
        self.linear = nn.Linear(512, num_classes)

    def _make_layer(self, planes, stride):
        blocks = nn.Sequential(PreActBlock(self.in_planes, planes, stride), PreActBlock(planes, planes, 1))
        self.in_planes = planes
        return blocks

    def forward(self, x):
        out = self.conv1(self.normalize(x))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.relu(self.bn(out))
        # Adaptive pooling equals avg_pool2d(4) on 32x32 inputs and also serves larger images.
        out = F.adaptive_avg_pool2d(out, 1)
        return self.linear(out.flatten(1))


def build_model(model_config):
    """The network described by a checkpoint's config.model ({architecture, inputShape, classNames, mean, std})."""
    architecture = model_config["architecture"]
    channels, height, width = model_config["inputShape"]
    num_classes = len(model_config["classNames"])
    mean, std = model_config["mean"], model_config["std"]
    if architecture == "smallcnn":
        return SmallCNN(channels, num_classes, height, width, mean, std)
    if architecture == "preact-resnet18":
        return PreActResNet18(channels, num_classes, mean, std)
    raise ValueError(f'unknown architecture "{architecture}"; accepted: smallcnn, preact-resnet18')


def read_safetensors_header(path):
    """The JSON header of a safetensors file: name -> {dtype, shape, data_offsets}, plus "__metadata__"."""
    with open(path, "rb") as file:
        (header_length,) = struct.unpack("<Q", file.read(8))
        return json.loads(file.read(header_length).decode("utf-8"))


def read_safetensors(path):
    """All tensors (name -> CPU tensor) and the __metadata__ dict (string -> string) of a safetensors file.

    Layout: [u64 little-endian N][N bytes of JSON header][raw little-endian tensor bytes]; data_offsets
    are relative to the start of the raw bytes.
    """
    with open(path, "rb") as file:
        content = file.read()
    (header_length,) = struct.unpack("<Q", content[:8])
    header = json.loads(content[8 : 8 + header_length].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    data = memoryview(content)[8 + header_length :]
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        dtype = SAFETENSORS_DTYPES[entry["dtype"]]
        raw = bytearray(data[begin:end])  # writable copy: frombuffer warns on read-only bytes
        flat = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(entry["shape"])
    return tensors, metadata


def load_classwise_checkpoint(path):
    """The model of a classwise-at checkpoint, in eval mode, and its metadata (epoch, seed as ints; config a dict)."""
    tensors, metadata = read_safetensors(path)
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: __metadata__.format is {metadata.get('format')!r}, expected {CHECKPOINT_FORMAT!r}")
    config = json.loads(metadata["config"])
    meta = {
        "format": metadata["format"],
        "epoch": int(metadata["epoch"]),
        "seed": int(metadata["seed"]),
        "config": config,
    }
    model = build_model(config["model"])
    state = {name: tensor for name, tensor in tensors.items() if not name.startswith(OPTIMIZER_PREFIX)}
    model.load_state_dict(state, strict=True)
    return model.eval(), meta
