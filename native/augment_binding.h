// augmentImages(): the training augmentation on its own, for tests and the data benchmark (synchronous).
// interleavedToPlanar(): a decoder's HWC pixels into CHW planes inside a batch buffer (synchronous).
#pragma once

#include <napi.h>

namespace classwise {

Napi::Value AugmentImages(const Napi::CallbackInfo& info);
Napi::Value InterleavedToPlanar(const Napi::CallbackInfo& info);

}  // namespace classwise
