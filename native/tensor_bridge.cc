#include "tensor_bridge.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

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

namespace {

// THE table of attack kinds: the options each accepts and its defaults. ParseAttack reads it, and
// attackDefaults() hands it to TypeScript (describeAttack, the trainer's FGSM-RS), so defaults live here only.
struct AttackKindSpec {
  const char* kind;
  std::vector<std::string> options;  // besides kind, eps, norm and targeted (internal: set from `targets`)
  int64_t steps;            // 0: none
  double stepSizeTimesSteps;  // PGD family: stepSize = this * eps / steps (FGSM: stepSize = this * eps)
  bool randomStart;
  int64_t targetClasses;    // 0: none
  int64_t queries;          // 0: none
  const char* squareSchedule;  // "" : none
};

const std::vector<AttackKindSpec>& KindTable() {
  static const std::vector<AttackKindSpec> table = {
      {"fgsm", {"steps", "stepSize", "randomStart", "restarts"}, 1, 1.0, false, 0, 0, ""},
      {"pgd", {"steps", "stepSize", "randomStart", "restarts"}, 10, 2.5, true, 0, 0, ""},
      {"cw", {"steps", "stepSize", "randomStart", "restarts"}, 10, 2.5, true, 0, 0, ""},
      {"tpgd", {"steps", "stepSize", "randomStart", "restarts", "temperature"}, 10, 2.5, true, 0, 0, ""},
      {"apgd-ce", {"steps", "restarts"}, 100, 0, true, 0, 0, ""},
      {"apgd-dlr", {"steps", "restarts"}, 100, 0, true, 0, 0, ""},
      {"apgd-t", {"steps", "restarts", "targetClasses"}, 100, 0, true, 9, 0, ""},
      {"fab-t", {"steps", "restarts", "targetClasses"}, 100, 0, false, 9, 0, ""},
      {"square", {"queries", "restarts", "squareFraction", "squareSchedule"}, 0, 0, true, 0, 5000, "rescaled"},
      {"autoattack", {"steps", "queries", "targetClasses", "attacks", "squareFraction", "squareSchedule", "restarts"},
       100, 0, true, 9, 5000, "autoattack"},
  };
  return table;
}

// The standard AutoAttack (Croce & Hein 2020, version='standard', Linf).
constexpr double kStandardSquareFraction = 0.8;
// FGSM-RS (Wong et al. 2020): uniform start in the ball, step 1.25 eps.
constexpr double kFgsmRsStepFactor = 1.25;

const AttackKindSpec* FindKind(const std::string& kind) {
  for (const auto& spec : KindTable()) {
    if (kind == spec.kind) return &spec;
  }
  return nullptr;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string KindList() {
  std::vector<std::string> kinds = {"none"};
  for (const auto& spec : KindTable()) kinds.push_back(spec.kind);
  return Join(kinds);
}

// Refuses every option the kind does not use, naming it, the kinds that do use it, and the fix.
void RefuseForeignOptions(const Napi::Object& options, const AttackKindSpec& spec, const std::string& where) {
  Napi::Array keys = options.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string key = keys.Get(i).As<Napi::String>().Utf8Value();
    if (options.Get(key).IsUndefined()) continue;
    if (key == "kind" || key == "eps" || key == "norm" || key == "targeted") continue;
    if (std::find(spec.options.begin(), spec.options.end(), key) != spec.options.end()) continue;
    std::vector<std::string> users;
    for (const auto& other : KindTable()) {
      if (std::find(other.options.begin(), other.options.end(), key) != other.options.end()) users.push_back(other.kind);
    }
    const std::string accepted = "kind, eps, norm" + (spec.options.empty() ? std::string() : ", " + Join(spec.options));
    if (users.empty()) {
      Fail(kInvalidArgument, where + "." + key + " is not an attack option; \"" + spec.kind + "\" accepts " + accepted);
    }
    Fail(kInvalidArgument, where + "." + key + " applies to kind " + Join(users) + " only, not \"" + spec.kind +
                               "\" (which accepts " + accepted + "); remove it");
  }
}

}  // namespace

Napi::Value AttackDefaults(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object kinds = Napi::Object::New(env);
  for (const auto& spec : KindTable()) {
    Napi::Object entry = Napi::Object::New(env);
    Napi::Array options = Napi::Array::New(env, spec.options.size());
    for (size_t i = 0; i < spec.options.size(); ++i) options.Set(static_cast<uint32_t>(i), spec.options[i]);
    entry.Set("options", options);
    if (spec.steps > 0) entry.Set("steps", Napi::Number::New(env, static_cast<double>(spec.steps)));
    if (spec.stepSizeTimesSteps > 0) entry.Set("stepSizeTimesSteps", Napi::Number::New(env, spec.stepSizeTimesSteps));
    entry.Set("restarts", Napi::Number::New(env, 1));
    entry.Set("randomStart", Napi::Boolean::New(env, spec.randomStart));
    if (spec.targetClasses > 0) entry.Set("targetClasses", Napi::Number::New(env, static_cast<double>(spec.targetClasses)));
    if (spec.queries > 0) {
      entry.Set("queries", Napi::Number::New(env, static_cast<double>(spec.queries)));
      entry.Set("squareFraction", Napi::Number::New(env, kStandardSquareFraction));
      entry.Set("squareSchedule", spec.squareSchedule);
    }
    kinds.Set(spec.kind, entry);
  }
  const AttackKindSpec& aa = *FindKind("autoattack");
  Napi::Object standard = Napi::Object::New(env);
  Napi::Array stages = Napi::Array::New(env, 4);
  const char* stageNames[] = {"apgd-ce", "apgd-t", "fab-t", "square"};
  for (uint32_t i = 0; i < 4; ++i) stages.Set(i, stageNames[i]);
  standard.Set("attacks", stages);
  standard.Set("steps", Napi::Number::New(env, static_cast<double>(aa.steps)));
  standard.Set("queries", Napi::Number::New(env, static_cast<double>(aa.queries)));
  standard.Set("targetClasses", Napi::Number::New(env, static_cast<double>(aa.targetClasses)));
  standard.Set("squareFraction", Napi::Number::New(env, kStandardSquareFraction));
  standard.Set("squareSchedule", aa.squareSchedule);
  standard.Set("restarts", Napi::Number::New(env, 1));
  Napi::Object fgsmRs = Napi::Object::New(env);
  fgsmRs.Set("randomStart", Napi::Boolean::New(env, true));
  fgsmRs.Set("stepSizeTimesEps", Napi::Number::New(env, kFgsmRsStepFactor));
  Napi::Object result = Napi::Object::New(env);
  result.Set("kinds", kinds);
  result.Set("standardAutoAttack", standard);
  result.Set("fgsmRs", fgsmRs);
  return result;
}

AttackConfig ParseAttack(const Napi::Value& value, const std::string& where) {
  AttackConfig config;
  if (value.IsUndefined()) return config;
  if (!value.IsObject() || value.IsArray()) Fail(kInvalidArgument, where + " must be an object, got " + Describe(value));
  Napi::Object options = value.As<Napi::Object>();
  const std::string kind = StringOption(options, "kind", "pgd", where);
  if (kind == "none") return config;
  const AttackKindSpec* found = FindKind(kind);
  if (found == nullptr) Fail(kInvalidArgument, where + ".kind is \"" + kind + "\"; accepted: " + KindList());
  const AttackKindSpec& spec = *found;
  RefuseForeignOptions(options, spec, where);
  const bool isFgsm = kind == "fgsm";
  const bool isPgdFamily = kind == "pgd" || isFgsm || kind == "cw" || kind == "tpgd";
  const bool isApgd = kind == "apgd-ce" || kind == "apgd-dlr" || kind == "apgd-t";
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
  config.randomStart = spec.randomStart;
  if (isPgdFamily) {
    config.algorithm = AttackAlgorithm::Pgd;
    config.loss = kind == "cw" ? AttackLoss::Cw : AttackLoss::Ce;
    config.steps = isFgsm ? 1 : IntegerOption(options, "steps", spec.steps, 0, kMaxSteps, where);
    if (isFgsm && !options.Get("steps").IsUndefined() && IntegerOption(options, "steps", 1, 1, 1, where) != 1) {
      Fail(kOutOfRange, where + ".steps must be 1 for fgsm");
    }
    const double defaultStep = isFgsm ? spec.stepSizeTimesSteps * config.eps
                                      : (config.steps > 0 ? spec.stepSizeTimesSteps * config.eps / config.steps : 0);
    config.stepSize = NumberOption(options, "stepSize", defaultStep, where);
    if (config.stepSize < 0) Fail(kOutOfRange, where + ".stepSize must be >= 0, got " + std::to_string(config.stepSize));
    config.randomStart = BoolOption(options, "randomStart", spec.randomStart, where);
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
    if (spec.steps > 0) config.steps = IntegerOption(options, "steps", spec.steps, 1, kMaxSteps, where);
    if (spec.queries > 0) config.queries = IntegerOption(options, "queries", spec.queries, 1, 10000000, where);
    config.targetClasses = 0;
    if (spec.targetClasses > 0) {
      config.targetClasses = IntegerOption(options, "targetClasses", spec.targetClasses, 1, 100000, where);
    }
    if (kind == "apgd-ce") config.loss = AttackLoss::Ce;
    if (kind == "apgd-dlr" || kind == "apgd-t") config.loss = AttackLoss::Dlr;
    config.algorithm = isApgd ? AttackAlgorithm::Apgd
                       : kind == "square" ? AttackAlgorithm::Square
                       : kind == "fab-t"  ? AttackAlgorithm::Fab
                                          : AttackAlgorithm::Ensemble;
    if ((kind == "apgd-t" || kind == "fab-t" || kind == "autoattack") && config.targeted) {
      Fail(kInvalidArgument, where + ".targeted cannot be true for " + kind +
                                 ": it chooses its own target classes (the top " +
                                 std::to_string(config.targetClasses) + " other classes); use apgd-ce or apgd-dlr with targets");
    }
    if (kind == "autoattack") {
      Napi::Value stages = options.Get("attacks");
      if (!stages.IsUndefined()) {
        const std::string accepted = "apgd-ce, apgd-t, fab-t, square";
        if (!stages.IsArray() || stages.As<Napi::Array>().Length() == 0) {
          Fail(kInvalidArgument, where + ".attacks must be a non-empty array of stage names (" + accepted + "), got " + Describe(stages));
        }
        config.stages = EnsembleStages{false, false, false, false};
        Napi::Array list = stages.As<Napi::Array>();
        for (uint32_t i = 0; i < list.Length(); ++i) {
          Napi::Value item = list.Get(i);
          const std::string name = item.IsString() ? item.As<Napi::String>().Utf8Value() : "";
          if (name == "apgd-ce") config.stages.apgdCe = true;
          else if (name == "apgd-t") config.stages.apgdTargeted = true;
          else if (name == "fab-t") config.stages.fabTargeted = true;
          else if (name == "square") config.stages.square = true;
          else Fail(kInvalidArgument, where + ".attacks[" + std::to_string(i) + "] is " + Describe(item) + "; accepted: " + accepted);
        }
      }
    }
    const bool usesSquare = kind == "square" || (kind == "autoattack" && config.stages.square);
    const bool usesFab = kind == "fab-t" || (kind == "autoattack" && config.stages.fabTargeted);
    if ((usesSquare || usesFab) && config.norm != AttackNorm::Linf) {
      const std::string what = usesSquare ? "the Square attack" : "FAB-T";
      Fail(kInvalidArgument, where + ".norm is \"" + norm + "\" but " + what + " here is Linf only" +
                                 (kind == "autoattack" ? "; pass attacks: ['apgd-ce', 'apgd-t'] for L2" : "; use apgd-ce for L2"));
    }
    if (spec.queries > 0) {
      config.squareFraction = NumberOption(options, "squareFraction", kStandardSquareFraction, where);
      if (!(config.squareFraction > 0 && config.squareFraction <= 1)) {
        Fail(kOutOfRange, where + ".squareFraction must be in (0, 1], got " + std::to_string(config.squareFraction));
      }
      const std::string schedule = StringOption(options, "squareSchedule", spec.squareSchedule, where);
      if (schedule != "rescaled" && schedule != "autoattack") {
        Fail(kInvalidArgument, where + ".squareSchedule is \"" + schedule +
                                   "\"; accepted: rescaled (the window schedule stretched to the query budget), "
                                   "autoattack (halvings at 10/50/200/500/1000/2000/4000 queries, as the standard AutoAttack)");
      }
      config.squareRescale = schedule == "rescaled";
    }
  }
  config.restarts = IntegerOption(options, "restarts", 1, 1, kMaxRestarts, where);
  if (kind == "autoattack" && config.restarts != 1) {
    Fail(kInvalidArgument, where + ".restarts must be 1 for autoattack (the standard cascade runs each attack once)");
  }
  return config;
}

}  // namespace classwise
