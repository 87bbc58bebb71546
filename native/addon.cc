// Registers the module and nothing else.
#include <napi.h>
#include <torch/torch.h>

#include <cstdlib>
#include <cstring>
#include <thread>


#include "augment_binding.h"
#include "cpu_allocator.h"
#include "errors.h"
#include "model_wrap.h"
#include "promise_worker.h"
#include "tensor_bridge.h"

namespace classwise {
namespace {

bool cpuCacheInstalled = false;

Napi::Value RuntimeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("torchVersion", TORCH_VERSION);
  result.Set("cudaAvailable", Napi::Boolean::New(env, torch::cuda::is_available()));
  result.Set("cudaDeviceCount", Napi::Number::New(env, static_cast<double>(torch::cuda::device_count())));
  result.Set("threads", Napi::Number::New(env, WorkerThreads()));
  result.Set("cpuCachingAllocator", Napi::Boolean::New(env, cpuCacheInstalled));
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
  exports.Set("NativeModel", ModelWrap::Define(env));
  exports.Set("augmentImages", Napi::Function::New(env, AugmentImages));
  exports.Set("interleavedToPlanar", Napi::Function::New(env, InterleavedToPlanar));
  return exports;
}

}  // namespace
}  // namespace classwise

// NODE_API_MODULE pastes the name into an identifier, so it needs an unqualified function.
static Napi::Object InitClasswiseAt(Napi::Env env, Napi::Object exports) { return classwise::Init(env, exports); }
NODE_API_MODULE(classwise_at, InitClasswiseAt)
