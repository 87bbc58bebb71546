#include "model_state.h"

#include <cmath>

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
    torch::Device device = torch::kCPU;
    try {
      device = torch::Device(name);
    } catch (const c10::Error&) {
      throw ClasswiseError(kInvalidArgument, "device \"" + name + "\" is not a device name; accepted: auto, cpu, cuda, cuda:N");
    }
    const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
    if (device.has_index() && device.index() >= count) {
      throw ClasswiseError(kDevice, "device \"" + name + "\" does not exist: this machine has " + std::to_string(count) +
                                        " CUDA device(s), cuda:0 to cuda:" + std::to_string(count - 1));
    }
    return device;
  }
  throw ClasswiseError(kInvalidArgument, "device \"" + name + "\" is not a device name; accepted: auto, cpu, cuda, cuda:N");
}

at::Generator MakeGenerator(const torch::Device& device, uint64_t seed) {
  at::Generator generator = at::globalContext().defaultGenerator(device).clone();
  generator.set_current_seed(seed);
  return generator;
}

void CheckFinite(const ModelState& model, const std::string& source) {
  auto check = [&](const std::string& name, const torch::Tensor& tensor) {
    if (!tensor.is_floating_point() || tensor.numel() == 0) return;
    const int64_t bad = (~torch::isfinite(tensor)).sum().item<int64_t>();
    if (bad == 0) return;
    throw ClasswiseError(kNonFinite, source + ": tensor \"" + name + "\" holds " + std::to_string(bad) + " of " +
                                         std::to_string(tensor.numel()) + " values that are NaN or infinite; " +
                                         "refused, a model with them predicts nothing meaningful");
  };
  torch::NoGradGuard noGrad;
  for (const auto& item : model.net->named_parameters()) check(item.key(), item.value());
  for (const auto& item : model.net->named_buffers()) check(item.key(), item.value());
}

std::shared_ptr<ModelState> CreateModelState(const ModelSpec& spec, const std::string& device, uint64_t seed) {
  auto finite = [](const std::vector<double>& values, const char* name) {
    for (size_t c = 0; c < values.size(); ++c) {
      if (!std::isfinite(values[c])) {
        throw ClasswiseError(kNonFinite, std::string(name) + "[" + std::to_string(c) + "] is " + FormatNumber(values[c]) +
                                             "; the per-channel normalisation needs finite numbers");
      }
    }
  };
  finite(spec.mean, "mean");
  finite(spec.std, "std");
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
  CheckFinite(*state, path);
  for (const auto& parameter : state->net->parameters()) state->momentum.push_back(torch::zeros_like(parameter));
  return state;
}

}  // namespace classwise
