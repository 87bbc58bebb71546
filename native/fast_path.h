// The fast path of one native call: bf16 autocast and the channels_last layout, chosen per call
// ('fp32' | 'bf16' | 'auto', 'contiguous' | 'channels_last' | 'auto') and reported with its result.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "models.h"

namespace classwise {

enum class Precision { Fp32, Bf16 };
enum class MemoryFormat { Contiguous, ChannelsLast };

struct FastPath {
  Precision precision = Precision::Fp32;
  MemoryFormat memoryFormat = MemoryFormat::Contiguous;
};

// The CPU's vector and matrix extensions, as LibTorch's cpuinfo sees them (2.13+), else the compiler's cpuid.
struct CpuFeatureFlags {
  bool avx2 = false;
  bool avx512 = false;
  bool avx512Bf16 = false;
  bool amxBf16 = false;
  const char* detectedBy = "none";
};
const CpuFeatureFlags& CpuFeatures();

// What 'auto' turns into on a device, and the reason in words (for runtimeInfo() and run headers).
struct AutoChoice {
  FastPath fastPath;
  std::string reason;
};
AutoChoice AutoFastPath(const torch::Device& device);

// The dtype autocast lowers convolutions and matrix products to on this thread for `type`, if it is on.
std::optional<at::ScalarType> AutocastLowerDtype(c10::DeviceType type);

// Autocast off on this thread for `type` for the guard's lifetime (a pass that must run in fp32).
class AutocastSuspended {
 public:
  explicit AutocastSuspended(c10::DeviceType type);
  ~AutocastSuspended();
  AutocastSuspended(const AutocastSuspended&) = delete;
  AutocastSuspended& operator=(const AutocastSuspended&) = delete;

 private:
  c10::DeviceType type_;
  bool wasEnabled_;
};

// options.precision and options.memoryFormat, 'auto' resolved for the device; any other value is refused by name.
FastPath FastPathOption(const Napi::Object& options, const torch::Device& device, const std::string& where);

const char* PrecisionName(Precision precision);
const char* MemoryFormatName(MemoryFormat format);

// result.precision and result.memoryFormat: what the call really ran with.
void SetFastPathResult(Napi::Object& result, const FastPath& fastPath);

// For one call, on the worker thread (autocast state is thread-local): bf16 autocast on the model's device
// type with fp32 master weights, and the 4-D weights and each input batch in channels_last. Restores the
// thread's autocast state and the weights' layout on exit.
class FastPathScope {
 public:
  FastPathScope(Classifier& net, const FastPath& fastPath, const torch::Device& device);
  ~FastPathScope();
  FastPathScope(const FastPathScope&) = delete;
  FastPathScope& operator=(const FastPathScope&) = delete;

 private:
  Classifier& net_;
  FastPath fastPath_;
  c10::DeviceType deviceType_;
  bool wasEnabled_ = false;
  at::ScalarType previousDtype_ = at::kFloat;
  bool cacheWasEnabled_ = true;
  std::vector<torch::Tensor> relaidOut_;
};

}  // namespace classwise
