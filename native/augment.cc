#include "augment.h"

namespace classwise {

using torch::indexing::Slice;

torch::Tensor AugmentBatch(const torch::Tensor& pixels, const AugmentConfig& config, at::Generator& generator) {
  if (!config.enabled()) return pixels;
  const int64_t batch = pixels.size(0), height = pixels.size(2), width = pixels.size(3);
  const int64_t pad = config.cropPadding;
  const auto longOptions = torch::TensorOptions().dtype(torch::kInt64);
  torch::Tensor padded = pad > 0 ? torch::constant_pad_nd(pixels, {pad, pad, pad, pad}, 0) : pixels;
  // Per image: a crop offset in [0, 2*pad] on each axis and a coin for the flip.
  torch::Tensor offsetY = torch::randint(0, 2 * pad + 1, {batch, 1}, generator, longOptions);
  torch::Tensor offsetX = torch::randint(0, 2 * pad + 1, {batch, 1}, generator, longOptions);
  torch::Tensor flip = config.horizontalFlip
                           ? torch::randint(0, 2, {batch, 1}, generator, longOptions)
                           : torch::zeros({batch, 1}, longOptions);
  torch::Tensor rows = offsetY + torch::arange(height, longOptions).view({1, height});
  torch::Tensor columnStep = torch::arange(width, longOptions).view({1, width});
  // A flipped image reads its crop's columns right to left.
  torch::Tensor columns = offsetX + torch::where(flip.to(torch::kBool), (width - 1) - columnStep, columnStep);
  torch::Tensor imageIndex = torch::arange(batch, longOptions).view({batch, 1, 1});
  // Advanced indices around a slice put their broadcast dims first: [B, H, W, C].
  torch::Tensor gathered = padded.index({imageIndex, Slice(), rows.view({batch, height, 1}),
                                         columns.view({batch, 1, width})});
  return gathered.permute({0, 3, 1, 2}).contiguous();
}

}  // namespace classwise
