#include "augment.h"

#include <cstring>

namespace classwise {

torch::Tensor AugmentBatch(const torch::Tensor& pixels, const AugmentConfig& config, at::Generator& generator) {
  if (!config.enabled()) return pixels;
  TORCH_CHECK(pixels.device().is_cpu() && pixels.scalar_type() == torch::kUInt8 && pixels.dim() == 4,
              "AugmentBatch takes host uint8 [B, C, H, W] pixels");
  torch::Tensor source = pixels.contiguous();
  const int64_t batch = source.size(0), channels = source.size(1), height = source.size(2), width = source.size(3);
  const int64_t pad = config.cropPadding;
  const auto longOptions = torch::TensorOptions().dtype(torch::kInt64);
  // Per image: a crop offset in [0, 2*pad] on each axis of the zero-padded image, and a coin for the flip.
  torch::Tensor offsetY = torch::randint(0, 2 * pad + 1, {batch}, generator, longOptions);
  torch::Tensor offsetX = torch::randint(0, 2 * pad + 1, {batch}, generator, longOptions);
  torch::Tensor flip = config.horizontalFlip ? torch::randint(0, 2, {batch}, generator, longOptions)
                                             : torch::zeros({batch}, longOptions);
  const int64_t* offsetsY = offsetY.data_ptr<int64_t>();
  const int64_t* offsetsX = offsetX.data_ptr<int64_t>();
  const int64_t* flips = flip.data_ptr<int64_t>();
  // Row copies on raw bytes: tiny per-image tensor ops would cost more in dispatch (and thread-pool wake-ups)
  // than the copying itself. Pixels shifted in from outside the image stay 0, as with zero padding.
  // Zeroed serially: a parallel fill wakes the intra-op pool, which on a busy machine costs milliseconds.
  torch::Tensor out = torch::empty_like(source);
  const uint8_t* in = source.data_ptr<uint8_t>();
  uint8_t* dst = out.data_ptr<uint8_t>();
  std::memset(dst, 0, static_cast<size_t>(out.numel()));
  const int64_t plane = height * width;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t shiftY = offsetsY[b] - pad, shiftX = offsetsX[b] - pad;
    const bool mirrored = flips[b] != 0;
    for (int64_t c = 0; c < channels; ++c) {
      const uint8_t* inPlane = in + (b * channels + c) * plane;
      uint8_t* outPlane = dst + (b * channels + c) * plane;
      for (int64_t y = 0; y < height; ++y) {
        const int64_t sourceY = y + shiftY;
        if (sourceY < 0 || sourceY >= height) continue;
        const uint8_t* inRow = inPlane + sourceY * width;
        uint8_t* outRow = outPlane + y * width;
        for (int64_t x = 0; x < width; ++x) {
          const int64_t sourceX = (mirrored ? width - 1 - x : x) + shiftX;
          if (sourceX >= 0 && sourceX < width) outRow[x] = inRow[sourceX];
        }
      }
    }
  }
  return out;
}

}  // namespace classwise
