#include "packed_conv.h"

#include <torch/version.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <variant>

#include "fast_path.h"

namespace classwise {

// LibTorch 1.13 has no transposed pointwise convolution: there the scope never opens.
#if TORCH_VERSION_MAJOR >= 2
namespace {

thread_local PackedWeightsScope* openScope = nullptr;

struct PackedOps {
  std::optional<c10::OperatorHandle> convolution, transposed, reorder, reorderTransposed;
  bool Available() const { return convolution && transposed && reorder && reorderTransposed; }
};

const PackedOps& Ops() {
  static const PackedOps ops = [] {
    // Private operators (PyTorch's compiler uses them): taken only with the argument count written for here.
    auto find = [](const char* name, size_t arguments) -> std::optional<c10::OperatorHandle> {
      auto handle = c10::Dispatcher::singleton().findSchema({name, ""});
      if (!handle || handle->schema().arguments().size() != arguments) return std::nullopt;
      return *handle;
    };
    return PackedOps{find("mkldnn::_convolution_pointwise", 10), find("mkldnn::_convolution_transpose_pointwise", 11),
                     find("mkldnn::_reorder_convolution_weight", 6),
                     find("mkldnn::_reorder_convolution_transpose_weight", 7)};
  }();
  return ops;
}

// -1: as CLASSWISE_PACKED_CONV says (on unless "0"); 0 or 1: as SetPackedConvolutions last said.
std::atomic<int> packingSetting{-1};

bool Wanted() {
  const int setting = packingSetting.load();
  if (setting >= 0) return setting == 1;
  const char* environment = std::getenv("CLASSWISE_PACKED_CONV");
  return !(environment && std::strcmp(environment, "0") == 0);
}

torch::Tensor CallBoxed(const c10::OperatorHandle& op, torch::jit::Stack stack) {
  op.callBoxed(&stack);
  return stack.at(0).toTensor();
}

std::vector<int64_t> Pair(const torch::ExpandingArray<2>& values) { return {(*values)[0], (*values)[1]}; }

struct Geometry {
  std::vector<int64_t> padding, stride, dilation;
};

// Integer padding, one group, zero padding mode: the convolutions our architectures build. Anything else: nullopt.
std::optional<Geometry> PackableGeometry(const torch::nn::detail::ConvNdOptions<2>& options) {
  const auto* padding = std::get_if<torch::ExpandingArray<2>>(&options.padding());
  if (padding == nullptr || options.groups() != 1 || !std::holds_alternative<torch::enumtype::kZeros>(options.padding_mode())) {
    return std::nullopt;
  }
  return Geometry{Pair(*padding), Pair(options.stride()), Pair(options.dilation())};
}

// Forward: the convolution on the packed weight. Backward: the input gradient only (the weights are frozen), the
// transposed convolution on the packed transposed weight, which oneDNN runs as the convolution's backward-data.
struct PackedConvolution : public torch::autograd::Function<PackedConvolution> {
  // The bias comes by pointer: it needs no gradient, and an undefined tensor among the inputs would be refused.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input,
                               const torch::Tensor* bias, const PackedWeightsScope::Packed* packed,
                               const Geometry* geometry) {
    ctx->saved_data["transposed"] = packed->transposed;
    ctx->saved_data["outputPadding"] = packed->outputPadding;
    ctx->saved_data["padding"] = geometry->padding;
    ctx->saved_data["stride"] = geometry->stride;
    ctx->saved_data["dilation"] = geometry->dilation;
    return CallBoxed(*Ops().convolution,
                     {input, packed->forward, bias->defined() ? c10::IValue(*bias) : c10::IValue(), geometry->padding,
                      geometry->stride, geometry->dilation, int64_t{1}, std::string("none"),
                      c10::List<std::optional<at::Scalar>>(), c10::IValue()});
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list outputGradients) {
    torch::Tensor gradient = outputGradients[0].contiguous(at::MemoryFormat::ChannelsLast);
    torch::Tensor inputGradient = CallBoxed(
        *Ops().transposed,
        {gradient, ctx->saved_data["transposed"].toTensor(), c10::IValue(), ctx->saved_data["padding"],
         ctx->saved_data["outputPadding"], ctx->saved_data["stride"], ctx->saved_data["dilation"], int64_t{1},
         std::string("none"), c10::List<std::optional<at::Scalar>>(), c10::IValue()});
    return {inputGradient, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

// Only where the CPU computes bf16 natively (AVX512-BF16, AMX): there oneDNN runs the transposed convolution with
// the backward-data kernel itself, which the byte-identity test relies on; emulated bf16 is not a fast path anyway.
bool PackedConvolutionsAvailable() {
  const CpuFeatureFlags& cpu = CpuFeatures();
  return Ops().Available() && (cpu.avx512Bf16 || cpu.amxBf16);
}
void SetPackedConvolutions(bool enabled) { packingSetting.store(enabled ? 1 : 0); }

PackedWeightsScope::PackedWeightsScope() : active_(openScope == nullptr && Wanted() && PackedConvolutionsAvailable()) {
  if (active_) openScope = this;
}

PackedWeightsScope::~PackedWeightsScope() {
  if (active_) openScope = nullptr;
}

const PackedWeightsScope::Packed& PackedWeightsScope::For(const PackableConv2dImpl& conv,
                                                          const std::vector<int64_t>& inputSizes,
                                                          const std::vector<int64_t>& outputSizes) {
  auto key = std::make_pair(static_cast<const void*>(&conv), inputSizes);
  auto found = packed_.find(key);
  if (found != packed_.end()) return found->second;
  const Geometry geometry = *PackableGeometry(conv.options);
  Packed packed;
  for (int dim = 0; dim < 2; ++dim) {
    const int64_t kernel = conv.weight.size(2 + dim);
    const int64_t reached = (outputSizes[2 + dim] - 1) * geometry.stride[dim] - 2 * geometry.padding[dim] +
                            geometry.dilation[dim] * (kernel - 1) + 1;
    packed.outputPadding.push_back(inputSizes[2 + dim] - reached);
  }
  torch::NoGradGuard noGrad;
  packed.forward = CallBoxed(*Ops().reorder, {conv.weight, geometry.padding, geometry.stride, geometry.dilation,
                                              int64_t{1}, inputSizes});
  packed.transposed = CallBoxed(*Ops().reorderTransposed,
                                {conv.weight, geometry.padding, packed.outputPadding, geometry.stride,
                                 geometry.dilation, int64_t{1}, outputSizes});
  return packed_.emplace(std::move(key), std::move(packed)).first->second;
}

torch::Tensor PackableConv2dImpl::forward(const torch::Tensor& input) {
  // Packed only for what the scope was opened for: bf16 weights (FrozenParameters' copies) under CPU bf16
  // autocast, channels_last batches. A decision pass (fp32 weights, autocast off) takes the plain path.
  PackedWeightsScope* scope = openScope;
  if (scope == nullptr || !input.is_cpu() || input.dim() != 4 || weight.scalar_type() != torch::kBFloat16 ||
      AutocastLowerDtype(c10::DeviceType::CPU) != std::optional<at::ScalarType>(torch::kBFloat16) ||
      !input.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    return torch::nn::Conv2dImpl::forward(input);
  }
  const std::optional<Geometry> geometry = PackableGeometry(options);
  if (!geometry) return torch::nn::Conv2dImpl::forward(input);
  std::vector<int64_t> inputSizes = input.sizes().vec();
  std::vector<int64_t> outputSizes = {inputSizes[0], weight.size(0)};
  for (int dim = 0; dim < 2; ++dim) {
    const int64_t kernel = weight.size(2 + dim);
    outputSizes.push_back((inputSizes[2 + dim] + 2 * geometry->padding[dim] - geometry->dilation[dim] * (kernel - 1) - 1) /
                              geometry->stride[dim] + 1);
  }
  const PackedWeightsScope::Packed& packed = scope->For(*this, inputSizes, outputSizes);
  // As autocast would: the input and bias in bf16 (differentiable casts, outside the custom function).
  torch::Tensor bf16Input = input.scalar_type() == torch::kBFloat16 ? input : input.to(torch::kBFloat16);
  torch::Tensor bf16Bias = bias.defined() ? bias.to(torch::kBFloat16) : torch::Tensor();
  return PackedConvolution::apply(bf16Input, &bf16Bias, &packed, &*geometry);
}

#else

bool PackedConvolutionsAvailable() { return false; }
void SetPackedConvolutions(bool) {}
PackedWeightsScope::PackedWeightsScope() = default;
PackedWeightsScope::~PackedWeightsScope() = default;
torch::Tensor PackableConv2dImpl::forward(const torch::Tensor& input) { return torch::nn::Conv2dImpl::forward(input); }

#endif

}  // namespace classwise
