#include "errors.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <new>

namespace classwise {

namespace {
// The error class handed over by JavaScript at load (per environment: worker threads load their own).
struct ErrorClass {
  Napi::FunctionReference constructor;
};
}  // namespace

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "setErrorClass needs the ClasswiseError class");
  auto* holder = env.GetInstanceData<ErrorClass>();
  if (holder == nullptr) {
    holder = new ErrorClass();
    env.SetInstanceData(holder);
  }
  holder->constructor = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

std::string FormatNumber(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  char text[32];
  std::snprintf(text, sizeof(text), "%g", value);
  return text;
}

ErrorInfo DescribeCurrentException() {
  try {
    throw;
  } catch (const ClasswiseError& e) {
    return {e.code(), e.what()};
  } catch (const c10::OutOfMemoryError& e) {
    return {kOutOfMemory, std::string("device out of memory: ") + e.what_without_backtrace()};
  } catch (const c10::Error& e) {
    // LibTorch 1.x reports a failed host allocation as a plain c10::Error.
    const std::string message = e.what_without_backtrace();
    if (message.find("not enough memory") != std::string::npos) return {kOutOfMemory, "out of host memory: " + message};
    return {kTorch, "LibTorch: " + message};
  } catch (const std::bad_alloc&) {
    return {kOutOfMemory, "out of host memory"};
  } catch (const std::exception& e) {
    return {kInternal, e.what()};
  } catch (...) {
    return {kInternal, "unknown native exception"};
  }
}

Napi::Error MakeJsError(Napi::Env env, const std::string& code, const std::string& message) {
  auto* holder = env.GetInstanceData<ErrorClass>();
  if (holder != nullptr && !holder->constructor.IsEmpty()) {
    Napi::Object instance = holder->constructor.New({Napi::String::New(env, code), Napi::String::New(env, message)});
    return Napi::Error(env, instance);
  }
  Napi::Error error;
  if (code == kInvalidArgument || code == kShapeMismatch) {
    error = Napi::TypeError::New(env, message);
  } else if (code == kOutOfRange) {
    error = Napi::RangeError::New(env, message);
  } else {
    error = Napi::Error::New(env, message);
  }
  error.Set("code", Napi::String::New(env, code));
  return error;
}

}  // namespace classwise
