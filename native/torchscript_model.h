// Any PyTorch classifier saved with torch.jit.save, behind the same Classifier interface as the built-in
// architectures: attacked, evaluated and reported class-wise like them.
#pragma once

#include <memory>
#include <string>

#include "models.h"

namespace classwise {

// Loads `path` onto `device` and checks that forward maps [1, C, H, W] images in [0,1] to [1, K] logits.
// Sets spec.numClasses to K when it is 0; otherwise a different K is an error naming both.
// Throws ClasswiseError with an export recipe when the file is not TorchScript (e.g. a torch.save state dict).
std::shared_ptr<Classifier> LoadTorchScript(const std::string& path, ModelSpec& spec, const torch::Device& device);

}  // namespace classwise
