#include "augment_binding.h"

#include <cstring>

#include "augment.h"
#include "errors.h"
#include "model_state.h"
#include "tensor_bridge.h"

namespace classwise {

// augmentImages({ images: Uint8Array, shape: [N, C, H, W] }, { cropPadding, horizontalFlip, seed }) -> Uint8Array
Napi::Value AugmentImages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    Napi::Object data = ObjectArgument(info, 0, "augment data");
    Napi::Object options = ObjectArgument(info, 1, "augment options");
    torch::Tensor pixels = CopyUint8Array(data.Get("images"), "augment data.images");
    if (!data.Get("shape").IsArray()) throw ClasswiseError(kInvalidArgument, "augment data.shape must be [N, C, H, W]");
    Napi::Array shapeArray = data.Get("shape").As<Napi::Array>();
    std::vector<int64_t> shape;
    for (uint32_t i = 0; i < shapeArray.Length(); ++i) shape.push_back(shapeArray.Get(i).As<Napi::Number>().Int64Value());
    int64_t elements = 1;
    for (int64_t size : shape) elements *= size;
    if (shape.size() != 4 || elements != pixels.numel()) {
      throw ClasswiseError(kShapeMismatch, "augment data.shape must be [N, C, H, W] with N*C*H*W = images.length (" +
                                               std::to_string(pixels.numel()) + ")");
    }
    AugmentConfig config;
    config.cropPadding = IntegerOption(options, "cropPadding", 0, 0, shape[2], "augment options");
    config.horizontalFlip = BoolOption(options, "horizontalFlip", false, "augment options");
    const auto seed = static_cast<uint64_t>(IntegerOption(options, "seed", 0, 0, (int64_t(1) << 53) - 1, "augment options"));
    at::Generator generator = MakeGenerator(torch::kCPU, seed);
    torch::Tensor out = AugmentBatch(pixels.view(shape), config, generator).contiguous();
    Napi::Uint8Array result = Napi::Uint8Array::New(env, out.numel());
    std::memcpy(result.Data(), out.data_ptr<uint8_t>(), out.numel());
    return result;
  });
}

// interleavedToPlanar(source: Uint8Array HWC, target: Uint8Array, { offset, channels }): writes the image's
// channel planes at target[offset ...]. One image of a few hundred KB: done on the JS thread, no copy of target.
Napi::Value InterleavedToPlanar(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    const std::string where = "interleavedToPlanar";
    if (info.Length() < 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
        !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw ClasswiseError(kInvalidArgument, where + " takes (source: Uint8Array, target: Uint8Array, { offset, channels })");
    }
    Napi::Uint8Array source = info[0].As<Napi::Uint8Array>();
    Napi::Uint8Array target = info[1].As<Napi::Uint8Array>();
    Napi::Object options = ObjectArgument(info, 2, where + " options");
    const int64_t channels = IntegerOption(options, "channels", 3, 1, 64, where + " options");
    const int64_t offset = IntegerOption(options, "offset", 0, 0, static_cast<int64_t>(target.ElementLength()), where + " options");
    const int64_t length = static_cast<int64_t>(source.ElementLength());
    if (length % channels != 0 || offset + length > static_cast<int64_t>(target.ElementLength())) {
      throw ClasswiseError(kShapeMismatch, where + ": source has " + std::to_string(length) + " bytes for " +
                                               std::to_string(channels) + " channels, target has " +
                                               std::to_string(target.ElementLength()) + " bytes from offset " +
                                               std::to_string(offset));
    }
    const int64_t pixels = length / channels;
    const uint8_t* in = source.Data();
    uint8_t* out = target.Data() + offset;
    for (int64_t c = 0; c < channels; ++c) {
      uint8_t* plane = out + c * pixels;
      for (int64_t p = 0; p < pixels; ++p) plane[p] = in[p * channels + c];
    }
    return env.Undefined();
  });
}

}  // namespace classwise
