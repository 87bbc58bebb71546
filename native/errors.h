// The one place where C++ failures become JavaScript errors with a `code`.
#pragma once

#include <napi.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace classwise {

// Error codes seen by JavaScript (err.code).
inline constexpr const char* kInvalidArgument = "ERR_INVALID_ARGUMENT";
inline constexpr const char* kOutOfRange = "ERR_OUT_OF_RANGE";
inline constexpr const char* kShapeMismatch = "ERR_SHAPE_MISMATCH";
inline constexpr const char* kTorch = "ERR_TORCH";
inline constexpr const char* kOutOfMemory = "ERR_OUT_OF_MEMORY";
inline constexpr const char* kDevice = "ERR_DEVICE";
inline constexpr const char* kInternal = "ERR_INTERNAL";
inline constexpr const char* kNonFinite = "ERR_NON_FINITE";
// Data parallelism: a bad environment or backend; a rank that died or hung; a rendezvous port taken.
inline constexpr const char* kDistributed = "ERR_DISTRIBUTED";
inline constexpr const char* kRankFailed = "ERR_RANK_FAILED";
inline constexpr const char* kPortInUse = "ERR_PORT_IN_USE";

// Thrown by native code for failures whose cause the user can fix; `code` travels to JavaScript.
class ClasswiseError : public std::runtime_error {
 public:
  ClasswiseError(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// A message and code taken from any C++ exception (ClasswiseError, c10::Error, std::bad_alloc, ...).
struct ErrorInfo {
  std::string code;
  std::string message;
};
ErrorInfo DescribeCurrentException();

// A JS error carrying `code`: an instance of the library's ClasswiseError once setErrorClass handed it over,
// else a plain Error (TypeError / RangeError for argument problems).
Napi::Error MakeJsError(Napi::Env env, const std::string& code, const std::string& message);

// setErrorClass(ClasswiseError): the class every later native error is constructed from, as new C(code, message).
Napi::Value SetErrorClass(const Napi::CallbackInfo& info);

// A number as a user reads it: "NaN", "Infinity", "-Infinity" (as JavaScript prints them), else %g.
std::string FormatNumber(double value);

// Runs native work at a batch size; running out of memory becomes an error naming the batch size to try.
template <typename Body>
void WithBatchSizeHint(int64_t batchSize, Body&& body) {
  try {
    body();
  } catch (...) {
    ErrorInfo info = DescribeCurrentException();
    if (info.code != kOutOfMemory) throw;
    throw ClasswiseError(kOutOfMemory, "out of memory at batch size " + std::to_string(batchSize) +
                                           "; try batch size " + std::to_string(std::max<int64_t>(1, batchSize / 2)) +
                                           " (" + info.message + ")");
  }
}

// Runs a JS-thread method body, turning any C++ exception into a thrown JS error.
template <typename Body>
Napi::Value Guarded(Napi::Env env, Body&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    ErrorInfo info = DescribeCurrentException();
    throw MakeJsError(env, info.code, info.message);
  }
}

}  // namespace classwise
