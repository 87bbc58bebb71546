#include "model_wrap.h"

#include "model_binding.h"
#include "tensor_bridge.h"

namespace classwise {

Napi::Function ModelWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {InstanceMethod("info", &ModelWrap::Info), InstanceMethod("train", &ModelWrap::Train),
                      InstanceMethod("evaluate", &ModelWrap::Evaluate), InstanceMethod("attack", &ModelWrap::Attack),
                      InstanceMethod("getState", &ModelWrap::GetState),
                      InstanceMethod("setState", &ModelWrap::SetState),
                      InstanceMethod("synchronize", &ModelWrap::Synchronize)});
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  Guarded(info.Env(), [&]() -> Napi::Value {
    const std::string where = "model spec";
    Napi::Object options = ObjectArgument(info, 0, where);
    ModelSpec spec;
    spec.architecture = StringOption(options, "architecture", "smallcnn", where);
    spec.numClasses = IntegerOption(options, "numClasses", 10, 2, kMaxClasses, where);
    spec.channels = IntegerOption(options, "channels", 1, 1, 64, where);
    spec.height = IntegerOption(options, "height", 28, 1, kMaxImageSide, where);
    spec.width = IntegerOption(options, "width", 28, 1, kMaxImageSide, where);
    auto perChannel = [&](const char* key, double fallback) {
      Napi::Value value = options.Get(key);
      std::vector<double> values;
      if (value.IsUndefined()) return std::vector<double>(spec.channels, fallback);
      if (!value.IsArray()) throw ClasswiseError(kInvalidArgument, where + "." + key + " must be an array of numbers");
      Napi::Array array = value.As<Napi::Array>();
      for (uint32_t i = 0; i < array.Length(); ++i) {
        Napi::Value v = array.Get(i);
        if (!v.IsNumber()) throw ClasswiseError(kInvalidArgument, where + "." + key + "[" + std::to_string(i) + "] must be a number");
        values.push_back(v.As<Napi::Number>().DoubleValue());
      }
      return values;
    };
    spec.mean = perChannel("mean", 0.0);
    spec.std = perChannel("std", 1.0);
    const std::string device = StringOption(options, "device", "auto", where);
    const std::string torchscript = StringOption(options, "torchscript", "", where);
    if (!torchscript.empty()) {
      spec.numClasses = IntegerOption(options, "numClasses", 0, 0, kMaxClasses, where);
      state_ = CreateTorchScriptState(spec, torchscript, device);
      return info.Env().Undefined();
    }
    state_ = CreateModelState(spec, device, SeedOption(options, where));
    return info.Env().Undefined();
  });
}

Napi::Value ModelWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Napi::Object result = Napi::Object::New(env);
    const ModelSpec& spec = state_->spec;
    result.Set("architecture", spec.architecture);
    result.Set("numClasses", Napi::Number::New(env, spec.numClasses));
    result.Set("channels", Napi::Number::New(env, spec.channels));
    result.Set("height", Napi::Number::New(env, spec.height));
    result.Set("width", Napi::Number::New(env, spec.width));
    result.Set("device", state_->device.str());
    int64_t parameters = 0;
    for (const auto& p : state_->net->parameters()) parameters += p.numel();
    result.Set("parameterCount", Napi::Number::New(env, static_cast<double>(parameters)));
    return result;
  });
}

}  // namespace classwise
