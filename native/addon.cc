// Registers the module and nothing else.
#include <ATen/Version.h>
#include <napi.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "build_info.h"

#include "augment_binding.h"
#include "image_pipeline.h"
#include "cpu_allocator.h"
#include "dataset_wrap.h"
#include "distributed_wrap.h"
#include "errors.h"
#include "fairness.h"
#include "fast_path.h"
#include "model_wrap.h"
#include "packed_conv.h"
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

Napi::Object CpuFeaturesObject(Napi::Env env) {
  const CpuFeatureFlags& flags = CpuFeatures();
  Napi::Object features = Napi::Object::New(env);
  features.Set("avx2", flags.avx2);
  features.Set("avx512", flags.avx512);
  features.Set("avx512Bf16", flags.avx512Bf16);
  features.Set("amxBf16", flags.amxBf16);
  features.Set("detectedBy", flags.detectedBy);
  return features;
}

// What precision: 'auto' and memoryFormat: 'auto' choose on each device kind, and why.
Napi::Object AutoChoices(Napi::Env env) {
  Napi::Object choices = Napi::Object::New(env);
  auto describe = [&](const torch::Device& device) {
    const AutoChoice choice = AutoFastPath(device);
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("precision", PrecisionName(choice.fastPath.precision));
    entry.Set("memoryFormat", MemoryFormatName(choice.fastPath.memoryFormat));
    entry.Set("reason", choice.reason);
    return entry;
  };
  choices.Set("cpu", describe(torch::kCPU));
  if (torch::cuda::is_available()) choices.Set("cuda", describe(torch::Device(torch::kCUDA, 0)));
  return choices;
}

Napi::Value RuntimeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("torchVersion", TORCH_VERSION);
  result.Set("cudaAvailable", Napi::Boolean::New(env, torch::cuda::is_available()));
  result.Set("cudaDeviceCount", Napi::Number::New(env, static_cast<double>(torch::cuda::device_count())));
  result.Set("threads", Napi::Number::New(env, WorkerThreads()));
  result.Set("cpuCachingAllocator", Napi::Boolean::New(env, cpuCacheInstalled));
  result.Set("packedConvWeights", Napi::Boolean::New(env, PackedConvolutionsAvailable()));
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
  result.Set("cpuFeatures", CpuFeaturesObject(env));
  result.Set("autoFastPath", AutoChoices(env));
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

Napi::Value SetPackedConvolutionsBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsBoolean()) {
      throw ClasswiseError(kInvalidArgument, "setPackedConvolutions takes one boolean (true: pack convolution weights in bf16 attacks)");
    }
    SetPackedConvolutions(info[0].As<Napi::Boolean>().Value());
    return env.Undefined();
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
  KeepJsThreadSerial();
  exports.Set("runtimeInfo", Napi::Function::New(env, RuntimeInfo));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("setPackedConvolutions", Napi::Function::New(env, SetPackedConvolutionsBinding));
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass));
  exports.Set("NativeDataset", DatasetWrap::Define(env));
  exports.Set("attackDefaults", Napi::Function::New(env, AttackDefaults));
  exports.Set("NativeModel", ModelWrap::Define(env));
  exports.Set("NativeProcessGroup", DistributedWrap::Define(env));
  exports.Set("distributedBackends", Napi::Function::New(env, DistributedBackends));
  exports.Set("exitNow", Napi::Function::New(env, ExitNow));
  exports.Set("exitWithParent", Napi::Function::New(env, ExitWithParent));
  exports.Set("augmentImages", Napi::Function::New(env, AugmentImages));
  exports.Set("interleavedToPlanar", Napi::Function::New(env, InterleavedToPlanar));
  exports.Set("faalClassWeights", Napi::Function::New(env, FaalClassWeightsBinding));
  exports.Set("decodeImageBatch", Napi::Function::New(env, DecodeImageBatch));
  exports.Set("decodePackedBatch", Napi::Function::New(env, DecodePackedBatch));
  exports.Set("jpegDecoderInfo", Napi::Function::New(env, JpegDecoderInfo));
  return exports;
}

}  // namespace
}  // namespace classwise

// NODE_API_MODULE pastes the name into an identifier, so it needs an unqualified function.
static Napi::Object InitClasswiseAt(Napi::Env env, Napi::Object exports) { return classwise::Init(env, exports); }
NODE_API_MODULE(classwise_at, InitClasswiseAt)
