// Registers the module and nothing else.
#include <ATen/Version.h>
#include <napi.h>
#include <torch/torch.h>
#include <torch/version.h>
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 13)
#include <ATen/cpu/Utils.h>
#define CLASSWISE_TORCH_CPU_CAPABILITIES 1
#endif

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "build_info.h"

#include "augment_binding.h"
#include "cpu_allocator.h"
#include "dataset_wrap.h"
#include "distributed_wrap.h"
#include "errors.h"
#include "model_wrap.h"
#include "promise_worker.h"
#include "tensor_bridge.h"

namespace classwise {
namespace {

bool cpuCacheInstalled = false;

// The kernel level LibTorch dispatches to (DEFAULT, AVX2, AVX512, ...). show_config() prints it on every
// version ("CPU capability usage: AVX2"); 1.13 exports no other way to ask.
std::string CpuCapability() {
  const std::string config = at::show_config();
  const std::string key = "CPU capability usage: ";
  const auto start = config.find(key);
  if (start == std::string::npos) return "unknown";
  const auto end = config.find('\n', start);
  return config.substr(start + key.size(), end == std::string::npos ? std::string::npos : end - start - key.size());
}

// The CPU's vector and matrix extensions, as LibTorch's cpuinfo sees them where it exposes them (2.13+);
// older LibTorch gets the same flags from the compiler's cpuid query.
Napi::Object CpuFeatures(Napi::Env env) {
  Napi::Object features = Napi::Object::New(env);
#ifdef CLASSWISE_TORCH_CPU_CAPABILITIES
  const auto capabilities = at::cpu::get_cpu_capabilities();
  const auto flag = [&](const char* name) {
    auto found = capabilities.find(name);
    return found != capabilities.end() && found->second.isBool() && found->second.toBool();
  };
  features.Set("avx2", flag("avx2"));
  features.Set("avx512", flag("avx512_f"));
  features.Set("avx512Bf16", flag("avx512_bf16"));
  features.Set("amxBf16", flag("amx_bf16"));
  features.Set("detectedBy", "libtorch");
#elif defined(__x86_64__)
  features.Set("avx2", Napi::Boolean::New(env, __builtin_cpu_supports("avx2")));
  features.Set("avx512", Napi::Boolean::New(env, __builtin_cpu_supports("avx512f")));
  features.Set("avx512Bf16", Napi::Boolean::New(env, __builtin_cpu_supports("avx512bf16")));
  features.Set("amxBf16", Napi::Boolean::New(env, __builtin_cpu_supports("amx-bf16")));
  features.Set("detectedBy", "cpuid");
#endif
  return features;
}

Napi::Value RuntimeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("torchVersion", TORCH_VERSION);
  result.Set("cudaAvailable", Napi::Boolean::New(env, torch::cuda::is_available()));
  result.Set("cudaDeviceCount", Napi::Number::New(env, static_cast<double>(torch::cuda::device_count())));
  result.Set("threads", Napi::Number::New(env, WorkerThreads()));
  result.Set("cpuCachingAllocator", Napi::Boolean::New(env, cpuCacheInstalled));
#ifdef CLASSWISE_WITH_CUDA
  result.Set("builtWithCuda", Napi::Boolean::New(env, true));
#else
  result.Set("builtWithCuda", Napi::Boolean::New(env, false));
#endif
  result.Set("cxxStandard", Napi::Number::New(env, static_cast<double>(__cplusplus / 100)));
  result.Set("torchFoundVia", CLASSWISE_TORCH_FOUND_VIA);
  result.Set("torchLibDir", CLASSWISE_TORCH_LIB_DIR);
  result.Set("torchPython", CLASSWISE_TORCH_PYTHON);
  result.Set("cpuCapability", CpuCapability());
  result.Set("cpuFeatures", CpuFeatures(env));
  return result;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Napi::Object options = ObjectArgument(info, 0, "thread options");
    SetWorkerThreads(static_cast<int>(IntegerOption(options, "threads", 1, 1, 1024, "thread options")));
    return Napi::Number::New(env, WorkerThreads());
  });
}

// Attack steps free and reallocate tensors of a few MB every step; glibc hands them back to the OS and
// faults every page in again (measured: 650k page faults, +21% CPU time for PGD-10 on 512 images).
// CLASSWISE_CPU_CACHE=0 keeps LibTorch's default allocator.
bool UseCpuCache() {
  const char* setting = std::getenv("CLASSWISE_CPU_CACHE");
  return !(setting && std::strcmp(setting, "0") == 0) && InstallCpuCachingAllocator();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  cpuCacheInstalled = UseCpuCache();
  // Every core by default; LibTorch alone may count only physical ones.
  SetWorkerThreads(WorkerThreads());
  exports.Set("runtimeInfo", Napi::Function::New(env, RuntimeInfo));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass));
  exports.Set("NativeDataset", DatasetWrap::Define(env));
  exports.Set("attackDefaults", Napi::Function::New(env, AttackDefaults));
  exports.Set("NativeModel", ModelWrap::Define(env));
  exports.Set("NativeProcessGroup", DistributedWrap::Define(env));
  exports.Set("distributedBackends", Napi::Function::New(env, DistributedBackends));
  exports.Set("augmentImages", Napi::Function::New(env, AugmentImages));
  exports.Set("interleavedToPlanar", Napi::Function::New(env, InterleavedToPlanar));
  return exports;
}

}  // namespace
}  // namespace classwise

// NODE_API_MODULE pastes the name into an identifier, so it needs an unqualified function.
static Napi::Object InitClasswiseAt(Napi::Env env, Napi::Object exports) { return classwise::Init(env, exports); }
NODE_API_MODULE(classwise_at, InitClasswiseAt)
