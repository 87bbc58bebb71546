#include "tensor_bridge.h"

#include <cmath>
#include <cstring>

#include "errors.h"

namespace classwise {
namespace {

// Upper bounds that keep a typo from asking for hours of work or absurd memory.
constexpr int64_t kMaxSteps = 100000;
constexpr int64_t kMaxRestarts = 1000;

std::string Describe(const Napi::Value& value) {
  if (value.IsUndefined()) return "undefined";
  if (value.IsNull()) return "null";
  if (value.IsString()) return "the string \"" + value.As<Napi::String>().Utf8Value() + "\"";
  if (value.IsNumber()) {
    double n = value.As<Napi::Number>().DoubleValue();
    std::ostringstream out;
    out << n;
    return out.str();
  }
  if (value.IsBoolean()) return value.As<Napi::Boolean>().Value() ? "true" : "false";
  if (value.IsTypedArray()) return "a typed array of another element type";
  if (value.IsArray()) return "an Array";
  if (value.IsFunction()) return "a function";
  return "an object";
}

[[noreturn]] void Fail(const char* code, const std::string& message) { throw ClasswiseError(code, message); }

Napi::TypedArray ExpectTypedArray(const Napi::Value& value, const std::string& name, napi_typedarray_type type,
                                  const char* typeName) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != type) {
    Fail(kInvalidArgument, name + " must be a " + typeName + ", got " + Describe(value));
  }
  return value.As<Napi::TypedArray>();
}

torch::Tensor CopyTyped(const Napi::Value& value, const std::string& name, napi_typedarray_type type,
                        const char* typeName, torch::ScalarType dtype) {
  Napi::TypedArray array = ExpectTypedArray(value, name, type, typeName);
  const size_t length = array.ElementLength();
  torch::Tensor tensor = torch::empty({static_cast<int64_t>(length)}, dtype);
  const auto* bytes = static_cast<const uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  if (length > 0) std::memcpy(tensor.data_ptr(), bytes, array.ByteLength());
  return tensor;
}

}  // namespace

Napi::Object ObjectArgument(const Napi::CallbackInfo& info, size_t index, const std::string& name) {
  if (info.Length() <= index || !info[index].IsObject() || info[index].IsArray()) {
    Fail(kInvalidArgument, name + " must be an object, got " +
                               (info.Length() <= index ? std::string("nothing") : Describe(info[index])));
  }
  return info[index].As<Napi::Object>();
}

double NumberOption(const Napi::Object& options, const char* key, double fallback, const std::string& where) {
  Napi::Value value = options.Get(key);
  if (value.IsUndefined()) return fallback;
  if (!value.IsNumber() || !std::isfinite(value.As<Napi::Number>().DoubleValue())) {
    Fail(kInvalidArgument, where + "." + key + " must be a finite number, got " + Describe(value));
  }
  return value.As<Napi::Number>().DoubleValue();
}

int64_t IntegerOption(const Napi::Object& options, const char* key, int64_t fallback, int64_t min, int64_t max,
                      const std::string& where) {
  Napi::Value value = options.Get(key);
  if (value.IsUndefined()) return fallback;
  double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
  if (!std::isfinite(number) || std::floor(number) != number) {
    Fail(kInvalidArgument, where + "." + key + " must be an integer, got " + Describe(value));
  }
  if (number < static_cast<double>(min) || number > static_cast<double>(max)) {
    Fail(kOutOfRange, where + "." + key + " must be in [" + std::to_string(min) + ", " + std::to_string(max) +
                          "], got " + Describe(value));
  }
  return static_cast<int64_t>(number);
}

bool BoolOption(const Napi::Object& options, const char* key, bool fallback, const std::string& where) {
  Napi::Value value = options.Get(key);
  if (value.IsUndefined()) return fallback;
  if (!value.IsBoolean()) Fail(kInvalidArgument, where + "." + key + " must be a boolean, got " + Describe(value));
  return value.As<Napi::Boolean>().Value();
}

std::string StringOption(const Napi::Object& options, const char* key, const std::string& fallback,
                         const std::string& where) {
  Napi::Value value = options.Get(key);
  if (value.IsUndefined()) return fallback;
  if (!value.IsString()) Fail(kInvalidArgument, where + "." + key + " must be a string, got " + Describe(value));
  return value.As<Napi::String>().Utf8Value();
}

torch::Tensor CopyUint8Array(const Napi::Value& value, const std::string& name) {
  return CopyTyped(value, name, napi_uint8_array, "Uint8Array", torch::kUInt8);
}

torch::Tensor CopyFloat32Array(const Napi::Value& value, const std::string& name) {
  return CopyTyped(value, name, napi_float32_array, "Float32Array", torch::kFloat32);
}

torch::Tensor CopyFloat64Array(const Napi::Value& value, const std::string& name) {
  return CopyTyped(value, name, napi_float64_array, "Float64Array", torch::kFloat64);
}

torch::Tensor CopyIndexArray(const Napi::Value& value, const std::string& name, int64_t limit,
                             const std::string& limitMeaning) {
  torch::Tensor values = CopyTyped(value, name, napi_int32_array, "Int32Array", torch::kInt32);
  const int32_t* data = values.data_ptr<int32_t>();
  for (int64_t i = 0; i < values.size(0); ++i) {
    if (data[i] < 0 || data[i] >= limit) {
      Fail(kOutOfRange, name + "[" + std::to_string(i) + "] is " + std::to_string(data[i]) + ", outside [0, " +
                            std::to_string(limit) + ") (" + limitMeaning + ")");
    }
  }
  return values.to(torch::kInt64);
}

Napi::Value TensorToTypedArray(Napi::Env env, const torch::Tensor& source) {
  torch::Tensor tensor = source.cpu().contiguous();
  const size_t length = static_cast<size_t>(tensor.numel());
  auto fill = [&](auto array) {
    if (length > 0) std::memcpy(array.Data(), tensor.data_ptr(), tensor.nbytes());
    return array;
  };
  switch (tensor.scalar_type()) {
    case torch::kFloat32: return fill(Napi::Float32Array::New(env, length));
    case torch::kFloat64: return fill(Napi::Float64Array::New(env, length));
    case torch::kInt32: return fill(Napi::Int32Array::New(env, length));
    case torch::kInt64: {
      // Class indices and counts fit in int32 and are easier to use in JS than BigInt64Array.
      torch::Tensor narrowed = tensor.to(torch::kInt32);
      Napi::Int32Array array = Napi::Int32Array::New(env, length);
      if (length > 0) std::memcpy(array.Data(), narrowed.data_ptr(), narrowed.nbytes());
      return array;
    }
    case torch::kUInt8: return fill(Napi::Uint8Array::New(env, length));
    default: Fail(kInternal, std::string("cannot hand a tensor of type ") + c10::toString(tensor.scalar_type()) + " to JavaScript");
  }
}

AttackConfig ParseAttack(const Napi::Value& value, const std::string& where) {
  AttackConfig config;
  if (value.IsUndefined()) return config;
  if (!value.IsObject() || value.IsArray()) Fail(kInvalidArgument, where + " must be an object, got " + Describe(value));
  Napi::Object options = value.As<Napi::Object>();
  const std::string kind = StringOption(options, "kind", "pgd", where);
  if (kind == "none") return config;
  const bool isFgsm = kind == "fgsm";
  const bool isPgdFamily = kind == "pgd" || isFgsm || kind == "cw" || kind == "tpgd";
  const bool isApgd = kind == "apgd-ce" || kind == "apgd-dlr" || kind == "apgd-t";
  if (!isPgdFamily && !isApgd && kind != "square" && kind != "autoattack") {
    Fail(kInvalidArgument, where + ".kind is \"" + kind +
                               "\"; accepted: none, fgsm, pgd, cw, tpgd, apgd-ce, apgd-dlr, apgd-t, square, autoattack");
  }
  config.enabled = true;
  const std::string norm = StringOption(options, "norm", "linf", where);
  if (norm == "linf") {
    config.norm = AttackNorm::Linf;
  } else if (norm == "l2") {
    config.norm = AttackNorm::L2;
  } else {
    Fail(kInvalidArgument, where + ".norm is \"" + norm + "\"; accepted: linf, l2");
  }
  if (options.Get("eps").IsUndefined()) Fail(kInvalidArgument, where + ".eps is required (perturbation budget in pixel units)");
  config.eps = NumberOption(options, "eps", 0, where);
  const double maxEps = config.norm == AttackNorm::Linf ? 1.0 : 1e6;
  if (config.eps < 0 || config.eps > maxEps) {
    Fail(kOutOfRange, where + ".eps must be in [0, " + (config.norm == AttackNorm::Linf ? std::string("1") : std::string("1e6")) +
                          "] for " + norm + ", got " + std::to_string(config.eps) +
                          (config.norm == AttackNorm::Linf ? " (pixels are in [0,1]; for 8/255 pass 0.0314)" : ""));
  }
  config.targeted = BoolOption(options, "targeted", false, where);
  // Options that belong to one kind are refused elsewhere, so a typo never silently runs another attack.
  auto onlyFor = [&](const char* key, bool allowed, const std::string& kinds) {
    if (!allowed && !options.Get(key).IsUndefined()) {
      Fail(kInvalidArgument, where + "." + key + " applies to kind " + kinds + " only, not \"" + kind + "\"; remove it");
    }
  };
  onlyFor("temperature", kind == "tpgd", "tpgd");
  onlyFor("queries", kind == "square" || kind == "autoattack", "square or autoattack");
  onlyFor("targetClasses", kind == "apgd-t" || kind == "autoattack", "apgd-t or autoattack");
  onlyFor("attacks", kind == "autoattack", "autoattack");
  onlyFor("stepSize", isPgdFamily, "fgsm, pgd, cw or tpgd (APGD sets its own step size, Square has none)");
  if (isPgdFamily) {
    config.algorithm = AttackAlgorithm::Pgd;
    config.loss = kind == "cw" ? AttackLoss::Cw : AttackLoss::Ce;
    config.steps = isFgsm ? 1 : IntegerOption(options, "steps", 10, 0, kMaxSteps, where);
    if (isFgsm && !options.Get("steps").IsUndefined() && IntegerOption(options, "steps", 1, 1, 1, where) != 1) {
      Fail(kOutOfRange, where + ".steps must be 1 for fgsm");
    }
    const double defaultStep = isFgsm ? config.eps : (config.steps > 0 ? 2.5 * config.eps / config.steps : 0);
    config.stepSize = NumberOption(options, "stepSize", defaultStep, where);
    if (config.stepSize < 0) Fail(kOutOfRange, where + ".stepSize must be >= 0, got " + std::to_string(config.stepSize));
    config.randomStart = BoolOption(options, "randomStart", !isFgsm, where);
    if (kind == "tpgd") {
      if (options.Get("temperature").IsUndefined()) {
        Fail(kInvalidArgument, where + ".temperature is required for tpgd (a number > 0; 1 is plain PGD)");
      }
      config.temperature = NumberOption(options, "temperature", 1.0, where);
      if (!(config.temperature > 0) || config.temperature > 1e6) {
        Fail(kOutOfRange, where + ".temperature must be in (0, 1e6], got " + std::to_string(config.temperature) +
                              " (logits are divided by it; 1 is plain PGD)");
      }
    }
  } else {
    onlyFor("randomStart", false, "fgsm, pgd, cw or tpgd (APGD and Square always start at random)");
    config.steps = IntegerOption(options, "steps", 100, 1, kMaxSteps, where);
    config.queries = IntegerOption(options, "queries", 5000, 1, 10000000, where);
    config.targetClasses = 0;
    if (kind == "apgd-t" || kind == "autoattack") {
      config.targetClasses = IntegerOption(options, "targetClasses", 9, 1, 100000, where);
    }
    if (kind == "apgd-ce") config.loss = AttackLoss::Ce;
    if (kind == "apgd-dlr" || kind == "apgd-t") config.loss = AttackLoss::Dlr;
    config.algorithm = isApgd ? AttackAlgorithm::Apgd
                              : (kind == "square" ? AttackAlgorithm::Square : AttackAlgorithm::Ensemble);
    if ((kind == "apgd-t" || kind == "autoattack") && config.targeted) {
      Fail(kInvalidArgument, where + ".targeted cannot be true for " + kind +
                                 ": it chooses its own target classes (the top " +
                                 std::to_string(config.targetClasses) + " other classes); use apgd-ce or apgd-dlr with targets");
    }
    if (kind == "autoattack") {
      Napi::Value stages = options.Get("attacks");
      if (!stages.IsUndefined()) {
        if (!stages.IsArray() || stages.As<Napi::Array>().Length() == 0) {
          Fail(kInvalidArgument, where + ".attacks must be a non-empty array of stage names (apgd-ce, apgd-t, square), got " + Describe(stages));
        }
        config.stages = EnsembleStages{false, false, false};
        Napi::Array list = stages.As<Napi::Array>();
        for (uint32_t i = 0; i < list.Length(); ++i) {
          Napi::Value item = list.Get(i);
          const std::string name = item.IsString() ? item.As<Napi::String>().Utf8Value() : "";
          if (name == "apgd-ce") config.stages.apgdCe = true;
          else if (name == "apgd-t") config.stages.apgdTargeted = true;
          else if (name == "square") config.stages.square = true;
          else if (name == "fab-t") Fail(kInvalidArgument, where + ".attacks[" + std::to_string(i) + "] is \"fab-t\", which this version does not implement; accepted: apgd-ce, apgd-t, square");
          else Fail(kInvalidArgument, where + ".attacks[" + std::to_string(i) + "] is " + Describe(item) + "; accepted: apgd-ce, apgd-t, square");
        }
      }
    }
    const bool usesSquare = kind == "square" || (kind == "autoattack" && config.stages.square);
    if (usesSquare && config.norm != AttackNorm::Linf) {
      Fail(kInvalidArgument, where + ".norm is \"" + norm + "\" but the Square attack here is Linf only" +
                                 (kind == "autoattack" ? "; pass attacks: ['apgd-ce', 'apgd-t'] for L2" : "; use apgd-ce for L2"));
    }
    if (usesSquare) config.squareFraction = NumberOption(options, "squareFraction", 0.8, where);
    if (!(config.squareFraction > 0 && config.squareFraction <= 1)) {
      Fail(kOutOfRange, where + ".squareFraction must be in (0, 1], got " + std::to_string(config.squareFraction));
    }
  }
  config.restarts = IntegerOption(options, "restarts", 1, 1, kMaxRestarts, where);
  if (kind == "autoattack" && config.restarts != 1) {
    Fail(kInvalidArgument, where + ".restarts must be 1 for autoattack (the standard cascade runs each attack once)");
  }
  return config;
}

}  // namespace classwise
