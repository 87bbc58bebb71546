// augmentImages(): the training augmentation on its own, for tests and the data benchmark (synchronous).
#pragma once

#include <napi.h>

namespace classwise {

Napi::Value AugmentImages(const Napi::CallbackInfo& info);

}  // namespace classwise
