#include "distributed_wrap.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "errors.h"
#include "model_binding.h"
#include "model_wrap.h"
#include "promise_worker.h"
#include "tensor_bridge.h"

namespace classwise {
namespace {

// Marks objects made by this constructor, so a look-alike object is never unwrapped.
const napi_type_tag kProcessGroupTag = {0x3b7e91c4d2a05f68ULL, 0xa1f4c3e2b5d60718ULL};
constexpr int64_t kMaxWorldSize = 1 << 20;
constexpr int64_t kMaxTimeoutSeconds = 7 * 24 * 3600;

using Membership = DistributedWrap::Membership;

// Connects on the worker thread; the group becomes visible to the JS thread (train, evaluate, From) only in
// Result, on the JS thread, so no JS call reads membership_->group while the worker writes it.
class ConnectWorker : public PromiseWorker {
 public:
  ConnectWorker(Napi::Env env, std::shared_ptr<Membership> membership)
      : PromiseWorker(env, Napi::Value()), membership_(std::move(membership)) {}

 private:
  void Run(const Reporter&) override {
    try {
      connected_ = DistributedGroup::Connect(membership_->config);
    } catch (...) {
      membership_->connecting = false;  // a failed connect may be retried
      throw;
    }
  }
  Napi::Value Result(Napi::Env env) override {
    membership_->group = std::move(connected_);
    membership_->connecting = false;
    return env.Undefined();
  }
  std::shared_ptr<Membership> membership_;
  std::shared_ptr<DistributedGroup> connected_;
};

class BarrierWorker : public PromiseWorker {
 public:
  BarrierWorker(Napi::Env env, std::shared_ptr<DistributedGroup> group, std::string what)
      : PromiseWorker(env, Napi::Value()), group_(std::move(group)), what_(std::move(what)) {}

 private:
  void Run(const Reporter&) override { group_->Barrier(what_); }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }
  std::shared_ptr<DistributedGroup> group_;
  std::string what_;
};

class SumWorker : public PromiseWorker {
 public:
  SumWorker(Napi::Env env, std::shared_ptr<DistributedGroup> group, torch::Tensor values, std::string what)
      : PromiseWorker(env, Napi::Value()), group_(std::move(group)), values_(std::move(values)), what_(std::move(what)) {}

 private:
  void Run(const Reporter&) override { group_->AllReduceSum({values_}, what_); }
  Napi::Value Result(Napi::Env env) override { return TensorToTypedArray(env, values_); }
  std::shared_ptr<DistributedGroup> group_;
  torch::Tensor values_;
  std::string what_;
};

// Rank 0's weights and buffers (and SGD momentum) into every rank's model: at the start of training, so all
// ranks start from one model; buffers alone before evaluating and saving, as BatchNorm statistics are per rank.
class SynchronizeWorker : public ModelWorker {
 public:
  SynchronizeWorker(Napi::Env env, std::shared_ptr<ModelState> model, std::shared_ptr<DistributedGroup> group,
                    bool parameters)
      : ModelWorker(env, Napi::Value(), std::move(model), 1), group_(std::move(group)), parameters_(parameters) {}

 private:
  void Work(const Reporter&) override {
    std::vector<torch::Tensor> tensors;
    if (parameters_) {
      for (const torch::Tensor& parameter : model_->net->parameters()) tensors.push_back(parameter);
      for (const torch::Tensor& buffer : model_->momentum) tensors.push_back(buffer);
    }
    for (const torch::Tensor& buffer : model_->net->buffers()) tensors.push_back(buffer);
    group_->BroadcastFromRankZero(tensors, parameters_ ? "the broadcast of rank 0's model" : "the broadcast of rank 0's buffers");
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }
  std::shared_ptr<DistributedGroup> group_;
  bool parameters_;
};

}  // namespace

Napi::Function DistributedWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeProcessGroup",
                     {InstanceMethod("connect", &DistributedWrap::Connect),
                      InstanceMethod("barrier", &DistributedWrap::Barrier),
                      InstanceMethod("allReduceSum", &DistributedWrap::AllReduceSum),
                      InstanceAccessor("rank", &DistributedWrap::Rank, nullptr),
                      InstanceAccessor("worldSize", &DistributedWrap::WorldSize, nullptr)});
}

DistributedWrap::DistributedWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DistributedWrap>(info) {
  Guarded(info.Env(), [&]() -> Napi::Value {
    const std::string where = "process group options";
    Napi::Object options = ObjectArgument(info, 0, where);
    auto membership = std::make_shared<Membership>();
    GroupConfig& config = membership->config;
    config.worldSize = IntegerOption(options, "worldSize", 1, 1, kMaxWorldSize, where);
    config.rank = IntegerOption(options, "rank", 0, 0, kMaxWorldSize - 1, where);
    if (config.rank >= config.worldSize) {
      throw ClasswiseError(kOutOfRange, where + ".rank is " + std::to_string(config.rank) + " but worldSize is " +
                                            std::to_string(config.worldSize) + "; ranks are 0 .. worldSize - 1");
    }
    config.masterAddr = StringOption(options, "masterAddr", "127.0.0.1", where);
    config.masterPort = IntegerOption(options, "masterPort", 29500, 1, 65535, where);
    config.timeout = std::chrono::milliseconds(
        static_cast<int64_t>(1000 * NumberOption(options, "timeoutSeconds", 1800, where)));
    if (config.timeout.count() < 1 || config.timeout.count() > kMaxTimeoutSeconds * 1000) {
      throw ClasswiseError(kOutOfRange, where + ".timeoutSeconds must be in (0, " + std::to_string(kMaxTimeoutSeconds) + "]");
    }
    config.backend = StringOption(options, "backend", "gloo", where);
    if (config.backend != "gloo" && config.backend != "nccl") {
      throw ClasswiseError(kInvalidArgument, where + ".backend is \"" + config.backend + "\"; accepted: gloo, nccl");
    }
    config.useAgentStore = BoolOption(options, "useAgentStore", false, where);
    config.restartCount = IntegerOption(options, "restartCount", 0, 0, int64_t(1) << 30, where);
    membership_ = membership;
    info.This().As<Napi::Object>().TypeTag(&kProcessGroupTag);
    return info.Env().Undefined();
  });
}

std::shared_ptr<DistributedGroup> DistributedWrap::From(const Napi::Object& options, const char* key,
                                                        const std::string& where) {
  Napi::Value value = options.Get(key);
  if (value.IsUndefined() || value.IsNull()) return nullptr;
  const std::string name = where + "." + key;
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kProcessGroupTag)) {
    throw ClasswiseError(kInvalidArgument, name + " must be a NativeProcessGroup (connectProcessGroup())");
  }
  auto group = Napi::ObjectWrap<DistributedWrap>::Unwrap(value.As<Napi::Object>())->membership_->group;
  if (!group) throw ClasswiseError(kInvalidArgument, name + " is not connected yet: await its connect() first");
  return group;
}

Napi::Value DistributedWrap::Connect(const Napi::CallbackInfo& info) {
  return Guarded(info.Env(), [&]() -> Napi::Value {
    if (membership_->group) throw ClasswiseError(kInvalidArgument, "the process group is already connected");
    if (membership_->connecting) throw ClasswiseError(kInvalidArgument, "the process group is already connecting: await the first connect()");
    membership_->connecting = true;
    return (new ConnectWorker(info.Env(), membership_))->Start();
  });
}

Napi::Value DistributedWrap::Barrier(const Napi::CallbackInfo& info) {
  return Guarded(info.Env(), [&]() -> Napi::Value {
    if (!membership_->group) throw ClasswiseError(kInvalidArgument, "barrier: await the process group's connect() first");
    const std::string what = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "a barrier";
    return (new BarrierWorker(info.Env(), membership_->group, what))->Start();
  });
}

Napi::Value DistributedWrap::AllReduceSum(const Napi::CallbackInfo& info) {
  return Guarded(info.Env(), [&]() -> Napi::Value {
    if (!membership_->group) throw ClasswiseError(kInvalidArgument, "allReduceSum: await the process group's connect() first");
    torch::Tensor values = CopyFloat64Array(info[0], "allReduceSum values");
    const std::string what = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "a sum over the ranks";
    return (new SumWorker(info.Env(), membership_->group, values, what))->Start();
  });
}

Napi::Value DistributedWrap::Rank(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(membership_->config.rank));
}

Napi::Value DistributedWrap::WorldSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(membership_->config.worldSize));
}

Napi::Value DistributedBackends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array backends = Napi::Array::New(env);
  for (const char* name : {"gloo", "nccl"}) {
    if (BackendAvailable(name)) backends.Set(backends.Length(), name);
  }
  return backends;
}

Napi::Value ExitNow(const Napi::CallbackInfo& info) {
  const int code = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 1;
  std::fflush(nullptr);
  _exit(code);
}

Napi::Value ExitWithParent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsNumber()) throw ClasswiseError(kInvalidArgument, "exitWithParent takes the parent's pid");
    const pid_t parent = static_cast<pid_t>(info[0].As<Napi::Number>().Int64Value());
#ifdef __linux__
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) == 0) {
      // The parent may have died before the signal was armed: then this process already has another parent.
      if (getppid() != parent) _exit(1);
      return Napi::Boolean::New(env, true);
    }
#endif
    if (getppid() != parent) _exit(1);
    return Napi::Boolean::New(env, false);
  });
}

Napi::Value ModelWrap::Synchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Napi::Object options = ObjectArgument(info, 0, "options");
    auto group = DistributedWrap::From(options, "processGroup", "options");
    if (!group) throw ClasswiseError(kInvalidArgument, "options.processGroup is required (a connected NativeProcessGroup)");
    const bool parameters = BoolOption(options, "parameters", true, "options");
    return (new SynchronizeWorker(env, state_, group, parameters))->Start();
  });
}

}  // namespace classwise
