#include "model_state.h"

#include "torchscript_model.h"

#include "errors.h"

namespace classwise {

torch::Device ResolveDevice(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::kCPU;
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available()) {
#ifdef CLASSWISE_WITH_CUDA
      throw ClasswiseError(kDevice, "device \"" + name + "\" requested but no CUDA device is visible (the addon is " +
                                        "built with CUDA, LibTorch " + TORCH_VERSION + "; check nvidia-smi and " +
                                        "CUDA_VISIBLE_DEVICES); use --device cpu or auto");
#else
      throw ClasswiseError(kDevice, "device \"" + name + "\" requested but this addon is built without CUDA (" +
                                        "LibTorch " + TORCH_VERSION + ", CPU); build it against a CUDA LibTorch " +
                                        "(README, Building) or use --device cpu or auto");
#endif
    }
    try {
      return torch::Device(name);
    } catch (const c10::Error&) {
      throw ClasswiseError(kInvalidArgument, "device \"" + name + "\" is not a device name; accepted: auto, cpu, cuda, cuda:N");
    }
  }
  throw ClasswiseError(kInvalidArgument, "device \"" + name + "\" is not a device name; accepted: auto, cpu, cuda, cuda:N");
}

at::Generator MakeGenerator(const torch::Device& device, uint64_t seed) {
  at::Generator generator = at::globalContext().defaultGenerator(device).clone();
  generator.set_current_seed(seed);
  return generator;
}

std::shared_ptr<ModelState> CreateModelState(const ModelSpec& spec, const std::string& device, uint64_t seed) {
  auto state = std::make_shared<ModelState>();
  state->spec = spec;
  state->device = ResolveDevice(device);
  {
    // Layer initialisers draw from the global generator: seed it under a lock for reproducible weights.
    static std::mutex initLock;
    std::lock_guard<std::mutex> lock(initLock);
    torch::manual_seed(seed);
    state->net = BuildClassifier(spec);
  }
  state->net->to(state->device);
  for (auto& parameter : state->net->parameters()) state->momentum.push_back(torch::zeros_like(parameter));
  return state;
}

}  // namespace classwise

namespace classwise {

std::shared_ptr<ModelState> CreateTorchScriptState(ModelSpec spec, const std::string& path, const std::string& device) {
  auto state = std::make_shared<ModelState>();
  state->device = ResolveDevice(device);
  spec.architecture = "torchscript";
  state->net = LoadTorchScript(path, spec, state->device);
  state->spec = spec;
  for (const auto& parameter : state->net->parameters()) state->momentum.push_back(torch::zeros_like(parameter));
  return state;
}

}  // namespace classwise
