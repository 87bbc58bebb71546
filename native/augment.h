// Training-time augmentation of whole uint8 batches: random crop with zero padding and horizontal flip,
// done natively on the whole batch (row copies in C++, no work in JavaScript), before the pixels become floats.
#pragma once

#include <torch/torch.h>

namespace classwise {

struct AugmentConfig {
  int64_t cropPadding = 0;  // pad each side by this much, then crop back to the input size at a random offset
  bool horizontalFlip = false;
  bool enabled() const { return cropPadding > 0 || horizontalFlip; }
};

// pixels: uint8 [B, C, H, W] on the host. Returns a new batch of the same shape; `generator` is a CPU
// generator private to the epoch, so augmentation does not shift the attack's random stream.
torch::Tensor AugmentBatch(const torch::Tensor& pixels, const AugmentConfig& config, at::Generator& generator);

}  // namespace classwise
