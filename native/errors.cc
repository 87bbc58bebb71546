#include "errors.h"

#include <torch/torch.h>

#include <new>

namespace classwise {

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
