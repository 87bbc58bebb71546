// The JavaScript class NativeDataset: a set's uint8 images and labels copied into the addon once, so that every
// epoch of training and every evaluation reads them where they are instead of copying them in again.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <memory>
#include <string>

namespace classwise {

struct ImageSet {
  torch::Tensor images;  // uint8 [N, C, H, W] on the host
  torch::Tensor labels;  // int64 [N]
  int64_t classes = 0;   // labels lie in [0, classes)
};

class DatasetWrap : public Napi::ObjectWrap<DatasetWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit DatasetWrap(const Napi::CallbackInfo& info);

  // The set behind `value` when it is a NativeDataset, else null.
  static std::shared_ptr<const ImageSet> From(const Napi::Value& value);

 private:
  Napi::Value Count(const Napi::CallbackInfo& info);
  Napi::Value Bytes(const Napi::CallbackInfo& info);

  std::shared_ptr<const ImageSet> set_;
};

}  // namespace classwise
