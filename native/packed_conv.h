// Convolutions whose bf16 weights are packed once for oneDNN while an attack holds them frozen (CPU).
// PyTorch's eager convolution reorders a plain weight into oneDNN's blocked layout at every call, forward and
// backward: on PreActResNet-18 about 5% of a bf16 PGD step. While a PackedWeightsScope is open on the thread, a
// PackableConv2d packs its bf16 weight once per input shape (for the forward pass, and transposed for the input
// gradient) and runs mkldnn::_convolution_pointwise / _convolution_transpose_pointwise on the packed copies: the
// same oneDNN kernels, so the same numbers. Anywhere else (fp32, training steps, CUDA, decisions) it is Conv2d.
#pragma once

#include <torch/torch.h>

#include <map>
#include <utility>
#include <vector>

namespace classwise {

class PackableConv2dImpl : public torch::nn::Conv2dImpl {
 public:
  using torch::nn::Conv2dImpl::Conv2dImpl;
  torch::Tensor forward(const torch::Tensor& input);
};
TORCH_MODULE(PackableConv2d);

// LibTorch has the oneDNN operators with the signatures used here (2.x; not Debian's 1.13), and the CPU has native
// bf16 (AVX512-BF16 or AMX-BF16).
bool PackedConvolutionsAvailable();

// Turns packing on or off for attacks that start afterwards (tests and benchmarks compare both; the default
// follows CLASSWISE_PACKED_CONV, on unless it is "0").
void SetPackedConvolutions(bool enabled);

// Opened by FrozenParameters when it holds bf16 weights on the CPU; the packed copies live as long as it does.
// Inactive where LibTorch lacks the ops (Debian's 1.13) or CLASSWISE_PACKED_CONV=0 (to compare, or rule it out).
class PackedWeightsScope {
 public:
  PackedWeightsScope();
  ~PackedWeightsScope();
  PackedWeightsScope(const PackedWeightsScope&) = delete;
  PackedWeightsScope& operator=(const PackedWeightsScope&) = delete;

  struct Packed {
    torch::Tensor forward;     // the weight in the layout oneDNN's forward convolution wants for this shape
    torch::Tensor transposed;  // the same weight for the transposed convolution that gives the input gradient
    std::vector<int64_t> outputPadding;
  };
  // The packed copies of `conv`'s weight for inputs of `inputSizes` and outputs of `outputSizes`, made on first use.
  const Packed& For(const PackableConv2dImpl& conv, const std::vector<int64_t>& inputSizes,
                    const std::vector<int64_t>& outputSizes);

 private:
  bool active_ = false;
  std::map<std::pair<const void*, std::vector<int64_t>>, Packed> packed_;
};

}  // namespace classwise
