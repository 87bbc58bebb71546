// The JavaScript class NativeProcessGroup: this process's membership of a c10d process group (distributed.h).
// The training and evaluation bindings take it as options.processGroup and run their collectives natively.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>

#include "distributed.h"

namespace classwise {

class DistributedWrap : public Napi::ObjectWrap<DistributedWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit DistributedWrap(const Napi::CallbackInfo& info);

  // The connected group behind options[key]: null when absent or undefined; ClasswiseError when it is not a
  // connected NativeProcessGroup.
  static std::shared_ptr<DistributedGroup> From(const Napi::Object& options, const char* key, const std::string& where);

  struct Membership {
    GroupConfig config;
    std::shared_ptr<DistributedGroup> group;  // set on the JS thread once connect() succeeded
    std::atomic<bool> connecting{false};      // a connect() is running (cleared by its worker on failure)
  };

 private:
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value Barrier(const Napi::CallbackInfo& info);
  Napi::Value AllReduceSum(const Napi::CallbackInfo& info);
  Napi::Value Rank(const Napi::CallbackInfo& info);
  Napi::Value WorldSize(const Napi::CallbackInfo& info);

  std::shared_ptr<Membership> membership_;
};

// distributedBackends(): the backends this build can connect with ("gloo", and "nccl" in the CUDA build).
Napi::Value DistributedBackends(const Napi::CallbackInfo& info);

// exitNow(code): ends the process at once, without joining threads. A rank whose peer died or hung may have a
// native thread blocked in a collective or a store call, which a normal exit (and process.exit) waits for forever.
Napi::Value ExitNow(const Napi::CallbackInfo& info);

// exitWithParent(pid): this process receives SIGKILL when its parent dies (Linux's parent-death signal). Returns
// false where the system has none (the caller polls instead); exits at once when the parent is already not pid.
Napi::Value ExitWithParent(const Napi::CallbackInfo& info);

}  // namespace classwise
