#include "model_binding.h"

#include "tensor_bridge.h"

namespace classwise {

torch::Tensor AsImageBatch(torch::Tensor flat, const ModelSpec& spec, const std::string& name) {
  const int64_t perImage = spec.channels * spec.height * spec.width;
  if (flat.size(0) % perImage != 0) {
    throw ClasswiseError(kShapeMismatch, name + " has " + std::to_string(flat.size(0)) +
                                             " values, not a multiple of channels*height*width = " +
                                             std::to_string(spec.channels) + "*" + std::to_string(spec.height) +
                                             "*" + std::to_string(spec.width) + " = " + std::to_string(perImage));
  }
  return flat.view({-1, spec.channels, spec.height, spec.width});
}

torch::Tensor LabelsFor(const Napi::Object& data, const char* key, int64_t count, int64_t classes,
                        const std::string& where) {
  torch::Tensor labels = CopyIndexArray(data.Get(key), where + "." + key, classes, "the model has " +
                                                                                    std::to_string(classes) + " classes");
  if (labels.size(0) != count) {
    throw ClasswiseError(kShapeMismatch, where + "." + key + " has " + std::to_string(labels.size(0)) +
                                             " entries but there are " + std::to_string(count) + " images");
  }
  return labels;
}

torch::Tensor LogitBiasOption(const Napi::Object& options, int64_t classes, const std::string& where) {
  Napi::Value value = options.Get("logitBias");
  if (value.IsUndefined()) return torch::Tensor();
  torch::Tensor bias = CopyFloat64Array(value, where + ".logitBias");
  if (bias.size(0) != classes) {
    throw ClasswiseError(kShapeMismatch, where + ".logitBias has " + std::to_string(bias.size(0)) +
                                             " entries; the model has " + std::to_string(classes) + " classes (one bias per class)");
  }
  if (!torch::isfinite(bias).all().item<bool>()) {
    throw ClasswiseError(kOutOfRange, where + ".logitBias must hold finite numbers");
  }
  return bias;
}

uint64_t SeedOption(const Napi::Object& options, const std::string& where) {
  return static_cast<uint64_t>(IntegerOption(options, "seed", 0, 0, (int64_t(1) << 53) - 1, where));
}

}  // namespace classwise
