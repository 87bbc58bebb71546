#include "model_binding.h"

#include "dataset_wrap.h"
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
  const std::string name = where.empty() ? std::string(key) : where + "." + key;
  torch::Tensor labels = CopyIndexArray(data.Get(key), name, classes, "the model has " +
                                                                                    std::to_string(classes) + " classes");
  if (labels.size(0) != count) {
    throw ClasswiseError(kShapeMismatch, name + " has " + std::to_string(labels.size(0)) +
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

CallImages ImagesAndLabels(const Napi::Object& data, const ModelSpec& spec, const std::string& where) {
  Napi::Value handle = data.Get("dataset");
  if (handle.IsUndefined()) {
    CallImages call;
    call.images = AsImageBatch(CopyUint8Array(data.Get("images"), where + ".images"), spec, where + ".images");
    call.labels = LabelsFor(data, "labels", call.images.size(0), spec.numClasses, where);
    return call;
  }
  std::shared_ptr<const ImageSet> set = DatasetWrap::From(handle);
  if (!set) throw ClasswiseError(kInvalidArgument, where + ".dataset must be a NativeDataset (from loadIntoNative)");
  const auto& images = set->images;
  if (images.size(1) != spec.channels || images.size(2) != spec.height || images.size(3) != spec.width) {
    throw ClasswiseError(kShapeMismatch, where + " holds images of " + std::to_string(images.size(1)) + "x" +
                                             std::to_string(images.size(2)) + "x" + std::to_string(images.size(3)) +
                                             " but the model takes " + std::to_string(spec.channels) + "x" +
                                             std::to_string(spec.height) + "x" + std::to_string(spec.width));
  }
  if (set->classes > spec.numClasses && set->labels.numel() > 0) {
    const int64_t largest = set->labels.max().item<int64_t>();
    if (largest >= spec.numClasses) {
      throw ClasswiseError(kOutOfRange, where + " has label " + std::to_string(largest) + " but the model has " +
                                            std::to_string(spec.numClasses) + " classes");
    }
  }
  return {set->images, set->labels};
}

}  // namespace classwise
