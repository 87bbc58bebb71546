#include "model_wrap.h"

#include <cstring>
#include <map>

#include "model_binding.h"
#include "tensor_bridge.h"

namespace classwise {
namespace {

// Prefix of optimizer tensors in a state map; the rest are the network's parameters and buffers.
const std::string kMomentumPrefix = "optimizer.momentum.";

const char* SafetensorsDtype(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32: return "F32";
    case torch::kFloat64: return "F64";
    case torch::kInt64: return "I64";
    default: throw ClasswiseError(kInternal, std::string("no safetensors dtype for ") + c10::toString(type));
  }
}

torch::ScalarType DtypeFromSafetensors(const std::string& name, const std::string& where) {
  if (name == "F32") return torch::kFloat32;
  if (name == "F64") return torch::kFloat64;
  if (name == "I64") return torch::kInt64;
  throw ClasswiseError(kInvalidArgument, where + ".dtype is \"" + name + "\"; accepted: F32, F64, I64");
}

struct NamedTensor {
  std::string name;
  torch::Tensor tensor;
};

// Network tensors (parameters, then buffers) and the optimizer's, under the names used in checkpoints.
std::vector<NamedTensor> StateTensors(ModelState& model) {
  std::vector<NamedTensor> tensors;
  for (const auto& item : model.net->named_parameters()) tensors.push_back({item.key(), item.value()});
  for (const auto& item : model.net->named_buffers()) tensors.push_back({item.key(), item.value()});
  auto parameters = model.net->named_parameters();
  for (size_t i = 0; i < parameters.size(); ++i) {
    tensors.push_back({kMomentumPrefix + parameters[i].key(), model.momentum[i]});
  }
  return tensors;
}

class GetStateWorker : public PromiseWorker {
 public:
  GetStateWorker(Napi::Env env, std::shared_ptr<ModelState> model)
      : PromiseWorker(env, env.Undefined()), model_(std::move(model)) {}

 private:
  void Run(const Reporter&) override {
    std::lock_guard<std::mutex> lock(model_->busy);
    for (auto& item : StateTensors(*model_)) tensors_.push_back({item.name, item.tensor.detach().cpu().contiguous().clone()});
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object result = Napi::Object::New(env);
    for (const auto& item : tensors_) {
      Napi::Object entry = Napi::Object::New(env);
      entry.Set("dtype", SafetensorsDtype(item.tensor.scalar_type()));
      Napi::Array shape = Napi::Array::New(env, item.tensor.dim());
      for (int64_t d = 0; d < item.tensor.dim(); ++d) shape.Set(d, Napi::Number::New(env, item.tensor.size(d)));
      entry.Set("shape", shape);
      Napi::Uint8Array bytes = Napi::Uint8Array::New(env, item.tensor.nbytes());
      if (item.tensor.nbytes() > 0) std::memcpy(bytes.Data(), item.tensor.data_ptr(), item.tensor.nbytes());
      entry.Set("data", bytes);
      result.Set(item.name, entry);
    }
    return result;
  }

  std::shared_ptr<ModelState> model_;
  std::vector<NamedTensor> tensors_;
};

class SetStateWorker : public PromiseWorker {
 public:
  SetStateWorker(Napi::Env env, std::shared_ptr<ModelState> model, std::map<std::string, torch::Tensor> incoming)
      : PromiseWorker(env, env.Undefined()), model_(std::move(model)), incoming_(std::move(incoming)) {}

 private:
  void Run(const Reporter&) override {
    std::lock_guard<std::mutex> lock(model_->busy);
    std::vector<NamedTensor> targets = StateTensors(*model_);
    // Check everything before changing anything, so a bad file leaves the model as it was.
    std::vector<std::string> missing;
    for (const auto& target : targets) {
      auto found = incoming_.find(target.name);
      if (found == incoming_.end()) {
        if (target.name.rfind(kMomentumPrefix, 0) != 0) missing.push_back(target.name);
        continue;
      }
      if (found->second.sizes() != target.tensor.sizes()) {
        throw ClasswiseError(kShapeMismatch, "tensor \"" + target.name + "\" has shape " +
                                                 c10::str(found->second.sizes()) + " but this model expects " +
                                                 c10::str(target.tensor.sizes()) +
                                                 " (was the checkpoint written for another architecture or class count?)");
      }
    }
    if (!missing.empty()) {
      std::string list;
      for (size_t i = 0; i < missing.size() && i < 5; ++i) list += (i ? ", " : "") + missing[i];
      throw ClasswiseError(kShapeMismatch, std::to_string(missing.size()) + " tensor(s) of the model are missing: " +
                                               list + (missing.size() > 5 ? ", ..." : ""));
    }
    for (const auto& item : incoming_) {
      const torch::Tensor& tensor = item.second;
      if (!tensor.is_floating_point() || tensor.numel() == 0) continue;
      const int64_t bad = (~torch::isfinite(tensor)).sum().item<int64_t>();
      if (bad > 0) {
        throw ClasswiseError(kNonFinite, "tensor \"" + item.first + "\" holds " + std::to_string(bad) + " of " +
                                             std::to_string(tensor.numel()) + " values that are NaN or infinite; " +
                                             "refused, a model with them predicts nothing meaningful");
      }
    }
    for (const auto& item : incoming_) {
      bool known = false;
      for (const auto& target : targets) known = known || target.name == item.first;
      if (!known) throw ClasswiseError(kShapeMismatch, "tensor \"" + item.first + "\" is not part of this " +
                                                          model_->spec.architecture + " model");
    }
    torch::NoGradGuard noGrad;
    for (auto& target : targets) {
      auto found = incoming_.find(target.name);
      if (found == incoming_.end()) {
        target.tensor.zero_();
      } else {
        target.tensor.copy_(found->second.to(target.tensor.scalar_type()));
      }
    }
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

  std::shared_ptr<ModelState> model_;
  std::map<std::string, torch::Tensor> incoming_;
};

}  // namespace

Napi::Value ModelWrap::GetState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value { return (new GetStateWorker(env, state_))->Start(); });
}

Napi::Value ModelWrap::SetState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Napi::Object tensors = ObjectArgument(info, 0, "state");
    std::map<std::string, torch::Tensor> incoming;
    Napi::Array names = tensors.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); ++i) {
      const std::string name = names.Get(i).As<Napi::String>().Utf8Value();
      const std::string where = "state[\"" + name + "\"]";
      Napi::Value entryValue = tensors.Get(name);
      if (!entryValue.IsObject()) throw ClasswiseError(kInvalidArgument, where + " must be an object { dtype, shape, data }");
      Napi::Object entry = entryValue.As<Napi::Object>();
      torch::ScalarType dtype = DtypeFromSafetensors(StringOption(entry, "dtype", "", where), where);
      Napi::Value shapeValue = entry.Get("shape");
      if (!shapeValue.IsArray()) throw ClasswiseError(kInvalidArgument, where + ".shape must be an array of integers");
      Napi::Array shapeArray = shapeValue.As<Napi::Array>();
      std::vector<int64_t> shape;
      int64_t elements = 1;
      for (uint32_t d = 0; d < shapeArray.Length(); ++d) {
        Napi::Value dim = shapeArray.Get(d);
        double size = dim.IsNumber() ? dim.As<Napi::Number>().DoubleValue() : -1;
        if (!(size >= 0 && size <= 1e9 && std::floor(size) == size)) {
          throw ClasswiseError(kInvalidArgument, where + ".shape[" + std::to_string(d) + "] is not a valid size");
        }
        shape.push_back(static_cast<int64_t>(size));
        elements *= shape.back();
      }
      torch::Tensor bytes = CopyUint8Array(entry.Get("data"), where + ".data");
      const int64_t expected = elements * static_cast<int64_t>(c10::elementSize(dtype));
      if (bytes.size(0) != expected) {
        throw ClasswiseError(kShapeMismatch, where + ".data has " + std::to_string(bytes.size(0)) + " bytes, shape " +
                                                 c10::str(c10::IntArrayRef(shape)) + " of " + c10::toString(dtype) +
                                                 " needs " + std::to_string(expected));
      }
      incoming[name] = bytes.view(dtype).view(shape);
    }
    return (new SetStateWorker(env, state_, std::move(incoming)))->Start();
  });
}

}  // namespace classwise
