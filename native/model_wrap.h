// The JavaScript class NativeModel: every method validates on the JS thread, then queues a PromiseWorker.
#pragma once

#include <napi.h>

#include <memory>

#include "model_state.h"

namespace classwise {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ModelWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Train(const Napi::CallbackInfo& info);
  Napi::Value Evaluate(const Napi::CallbackInfo& info);
  Napi::Value Attack(const Napi::CallbackInfo& info);
  Napi::Value GetState(const Napi::CallbackInfo& info);
  Napi::Value SetState(const Napi::CallbackInfo& info);
  Napi::Value Synchronize(const Napi::CallbackInfo& info);  // distributed_wrap.cc

  std::shared_ptr<ModelState> state_;
};

}  // namespace classwise
