#include "fast_path.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 13)
#include <ATen/cpu/Utils.h>
#define CLASSWISE_TORCH_CPU_CAPABILITIES 1
#endif
#ifdef CLASSWISE_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

#include "errors.h"
#include "tensor_bridge.h"

namespace classwise {
namespace {

// Tensor cores with bf16 arrived with Ampere (compute capability 8.0).
constexpr int kCudaBf16Major = 8;

// Autocast is per device type since LibTorch 2.4; 1.13 has one function per device.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool AutocastEnabled(c10::DeviceType type) { return at::autocast::is_autocast_enabled(type); }
void SetAutocastEnabled(c10::DeviceType type, bool enabled) { at::autocast::set_autocast_enabled(type, enabled); }
at::ScalarType AutocastDtype(c10::DeviceType type) { return at::autocast::get_autocast_dtype(type); }
void SetAutocastDtype(c10::DeviceType type, at::ScalarType dtype) { at::autocast::set_autocast_dtype(type, dtype); }
#else
bool AutocastEnabled(c10::DeviceType type) {
  return type == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void SetAutocastEnabled(c10::DeviceType type, bool enabled) {
  if (type == c10::DeviceType::CUDA) at::autocast::set_enabled(enabled);
  else at::autocast::set_cpu_enabled(enabled);
}
at::ScalarType AutocastDtype(c10::DeviceType type) {
  return type == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void SetAutocastDtype(c10::DeviceType type, at::ScalarType dtype) {
  if (type == c10::DeviceType::CUDA) at::autocast::set_autocast_gpu_dtype(dtype);
  else at::autocast::set_autocast_cpu_dtype(dtype);
}
#endif

CpuFeatureFlags DetectCpuFeatures() {
  CpuFeatureFlags flags;
#ifdef CLASSWISE_TORCH_CPU_CAPABILITIES
  const auto capabilities = at::cpu::get_cpu_capabilities();
  const auto flag = [&](const char* name) {
    auto found = capabilities.find(name);
    return found != capabilities.end() && found->second.isBool() && found->second.toBool();
  };
  flags.avx2 = flag("avx2");
  flags.avx512 = flag("avx512_f");
  flags.avx512Bf16 = flag("avx512_bf16");
  flags.amxBf16 = flag("amx_bf16");
  flags.detectedBy = "libtorch";
#elif defined(__x86_64__)
  flags.avx2 = __builtin_cpu_supports("avx2");
  flags.avx512 = __builtin_cpu_supports("avx512f");
  flags.avx512Bf16 = __builtin_cpu_supports("avx512bf16");
  flags.amxBf16 = __builtin_cpu_supports("amx-bf16");
  flags.detectedBy = "cpuid";
#endif
  return flags;
}

// A copy with the canonical strides of `format`. contiguous(format) would return a weight with one input channel
// ([K, 1, h, w]) unchanged, since its memory is already in either order; but the convolution reads the layout from
// the strides, so such a first layer (SmallCNN on grey images) kept producing NCHW activations, which were then
// copied to NHWC for the next layer and back in the backward pass (a third of a bf16 PGD step).
torch::Tensor WithStridesOf(const torch::Tensor& tensor, at::MemoryFormat format) {
  return torch::empty_like(tensor, tensor.options(), format).copy_(tensor);
}

}  // namespace

const CpuFeatureFlags& CpuFeatures() {
  static const CpuFeatureFlags flags = DetectCpuFeatures();
  return flags;
}

AutoChoice AutoFastPath(const torch::Device& device) {
  AutoChoice choice;
  if (device.is_cuda()) {
#ifdef CLASSWISE_WITH_CUDA
    const cudaDeviceProp* properties = at::cuda::getDeviceProperties(device.has_index() ? device.index() : 0);
    const std::string capability = std::to_string(properties->major) + "." + std::to_string(properties->minor);
    // NHWC is what tensor-core convolutions read, in either precision.
    choice.fastPath.memoryFormat = MemoryFormat::ChannelsLast;
    if (properties->major >= kCudaBf16Major) {
      choice.fastPath.precision = Precision::Bf16;
      choice.reason = "CUDA compute capability " + capability + " (>= 8.0) has bf16 tensor cores";
    } else {
      choice.reason = "CUDA compute capability " + capability + " (< 8.0) has no fast bf16";
    }
#else
    choice.reason = "this addon is built without CUDA";
#endif
    return choice;
  }
  const CpuFeatureFlags& cpu = CpuFeatures();
  if (cpu.amxBf16 || cpu.avx512Bf16) {
    // oneDNN's bf16 convolutions run on NHWC; measured faster together (issue 10).
    choice.fastPath = {Precision::Bf16, MemoryFormat::ChannelsLast};
    choice.reason = std::string("CPU has ") + (cpu.amxBf16 ? "AMX-BF16" : "AVX512-BF16") + " (" + cpu.detectedBy + ")";
  } else {
    // oneDNN's fp32 convolutions are also faster on NHWC on AVX2 (scripts/bench/options.js on 2 cores:
    // PreActResNet-18 PGD-10 attack +19%, training +9%; SmallCNN within noise): only bf16 stays off.
    choice.fastPath.memoryFormat = MemoryFormat::ChannelsLast;
    choice.reason = std::string("CPU has neither AMX-BF16 nor AVX512-BF16 (") + cpu.detectedBy +
                    "): bf16 would be emulated, slower than fp32; channels_last convolutions are faster in fp32 too";
  }
  return choice;
}

std::optional<at::ScalarType> AutocastLowerDtype(c10::DeviceType type) {
  if (!AutocastEnabled(type)) return std::nullopt;
  return AutocastDtype(type);
}

const char* PrecisionName(Precision precision) { return precision == Precision::Bf16 ? "bf16" : "fp32"; }

const char* MemoryFormatName(MemoryFormat format) {
  return format == MemoryFormat::ChannelsLast ? "channels_last" : "contiguous";
}

FastPath FastPathOption(const Napi::Object& options, const torch::Device& device, const std::string& where) {
  FastPath fastPath;
  const std::string precision = StringOption(options, "precision", "fp32", where);
  const std::string memoryFormat = StringOption(options, "memoryFormat", "contiguous", where);
  const bool anyAuto = precision == "auto" || memoryFormat == "auto";
  const FastPath automatic = anyAuto ? AutoFastPath(device).fastPath : FastPath{};
  if (precision == "fp32") fastPath.precision = Precision::Fp32;
  else if (precision == "bf16") fastPath.precision = Precision::Bf16;
  else if (precision == "auto") fastPath.precision = automatic.precision;
  else {
    throw ClasswiseError(kInvalidArgument, where + ".precision is \"" + precision +
                                               "\"; accepted: fp32, bf16, auto (bf16 where the device has fast bf16)");
  }
  if (memoryFormat == "contiguous") fastPath.memoryFormat = MemoryFormat::Contiguous;
  else if (memoryFormat == "channels_last") fastPath.memoryFormat = MemoryFormat::ChannelsLast;
  else if (memoryFormat == "auto") fastPath.memoryFormat = automatic.memoryFormat;
  else {
    throw ClasswiseError(kInvalidArgument, where + ".memoryFormat is \"" + memoryFormat +
                                               "\"; accepted: contiguous, channels_last, auto");
  }
  return fastPath;
}

void SetFastPathResult(Napi::Object& result, const FastPath& fastPath) {
  result.Set("precision", PrecisionName(fastPath.precision));
  result.Set("memoryFormat", MemoryFormatName(fastPath.memoryFormat));
}

AutocastSuspended::AutocastSuspended(c10::DeviceType type) : type_(type), wasEnabled_(AutocastEnabled(type)) {
  SetAutocastEnabled(type_, false);
}

AutocastSuspended::~AutocastSuspended() { SetAutocastEnabled(type_, wasEnabled_); }

FastPathScope::FastPathScope(Classifier& net, const FastPath& fastPath, const torch::Device& device)
    : net_(net), fastPath_(fastPath), deviceType_(device.type()) {
  if (fastPath_.precision == Precision::Bf16) {
    wasEnabled_ = AutocastEnabled(deviceType_);
    previousDtype_ = AutocastDtype(deviceType_);
    cacheWasEnabled_ = at::autocast::is_autocast_cache_enabled();
    SetAutocastEnabled(deviceType_, true);
    SetAutocastDtype(deviceType_, at::kBFloat16);
    // The cache would keep bf16 copies of weights that training then updates; casting each forward is exact.
    at::autocast::set_autocast_cache_enabled(false);
  }
  if (fastPath_.memoryFormat == MemoryFormat::ChannelsLast) {
    torch::NoGradGuard noGrad;
    for (torch::Tensor parameter : net_.parameters()) {
      if (parameter.dim() != 4) continue;
      parameter.set_data(WithStridesOf(parameter, at::MemoryFormat::ChannelsLast));
      relaidOut_.push_back(parameter);
    }
    net_.inputFormat = at::MemoryFormat::ChannelsLast;
  }
}

FastPathScope::~FastPathScope() {
  if (fastPath_.memoryFormat == MemoryFormat::ChannelsLast) {
    net_.inputFormat = at::MemoryFormat::Contiguous;
    torch::NoGradGuard noGrad;
    for (torch::Tensor& parameter : relaidOut_) parameter.set_data(WithStridesOf(parameter, at::MemoryFormat::Contiguous));
  }
  if (fastPath_.precision == Precision::Bf16) {
    at::autocast::set_autocast_cache_enabled(cacheWasEnabled_);
    SetAutocastDtype(deviceType_, previousDtype_);
    SetAutocastEnabled(deviceType_, wasEnabled_);
  }
}

}  // namespace classwise
