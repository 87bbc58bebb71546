#include "dataset_wrap.h"

#include "errors.h"
#include "tensor_bridge.h"

namespace classwise {
namespace {

// Labels are checked against the class count the caller names (any int32 when it names none).
constexpr int64_t kMaxDatasetClasses = 0x7fffffff;
constexpr int64_t kMaxDatasetImageSide = 4096;
// Marks objects made by this constructor, so a look-alike object is never unwrapped.
const napi_type_tag kDatasetTag = {0x8d0c6a3f5e214b7aULL, 0x9c51e0b2a4d73f16ULL};

}  // namespace

Napi::Function DatasetWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeDataset",
                     {InstanceAccessor("count", &DatasetWrap::Count, nullptr),
                      InstanceAccessor("bytes", &DatasetWrap::Bytes, nullptr)});
}

DatasetWrap::DatasetWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DatasetWrap>(info) {
  Guarded(info.Env(), [&]() -> Napi::Value {
    const std::string where = "dataset";
    Napi::Object data = ObjectArgument(info, 0, where);
    const int64_t channels = IntegerOption(data, "channels", 1, 1, 64, where);
    const int64_t height = IntegerOption(data, "height", 1, 1, kMaxDatasetImageSide, where);
    const int64_t width = IntegerOption(data, "width", 1, 1, kMaxDatasetImageSide, where);
    const int64_t classes = IntegerOption(data, "classes", 2, 1, kMaxDatasetClasses, where);
    auto set = std::make_shared<ImageSet>();
    torch::Tensor images = CopyUint8Array(data.Get("images"), where + ".images");
    const int64_t perImage = channels * height * width;
    if (images.size(0) % perImage != 0) {
      throw ClasswiseError(kShapeMismatch, where + ".images has " + std::to_string(images.size(0)) +
                                               " values, not a multiple of channels*height*width = " +
                                               std::to_string(perImage));
    }
    set->images = images.view({-1, channels, height, width});
    set->labels = CopyIndexArray(data.Get("labels"), where + ".labels", classes,
                                 "the dataset has " + std::to_string(classes) + " classes");
    if (set->labels.size(0) != set->images.size(0)) {
      throw ClasswiseError(kShapeMismatch, where + ".labels has " + std::to_string(set->labels.size(0)) +
                                               " entries but there are " + std::to_string(set->images.size(0)) + " images");
    }
    set->classes = classes;
    set_ = set;
    info.This().As<Napi::Object>().TypeTag(&kDatasetTag);
    return info.Env().Undefined();
  });
}

std::shared_ptr<const ImageSet> DatasetWrap::From(const Napi::Value& value) {
  if (!value.IsObject()) return nullptr;
  Napi::Object object = value.As<Napi::Object>();
  if (!object.CheckTypeTag(&kDatasetTag)) return nullptr;
  return Napi::ObjectWrap<DatasetWrap>::Unwrap(object)->set_;
}

Napi::Value DatasetWrap::Count(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(set_->images.size(0)));
}

Napi::Value DatasetWrap::Bytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(set_->images.nbytes() + set_->labels.nbytes()));
}

}  // namespace classwise
