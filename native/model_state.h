// The C++ object behind a JavaScript Model: network, device, optimizer state and a lock.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "models.h"

namespace classwise {

struct ModelState {
  ModelSpec spec;
  std::shared_ptr<Classifier> net;
  torch::Device device = torch::kCPU;
  // SGD momentum buffers, one per parameter in named_parameters() order; zeros until the first step,
  // which makes the first update equal PyTorch's (buffer = gradient).
  std::vector<torch::Tensor> momentum;
  // One native call at a time per model: training and evaluation share weights and BN statistics.
  std::mutex busy;
};

std::shared_ptr<ModelState> CreateModelState(const ModelSpec& spec, const std::string& device, uint64_t seed);

// A model loaded from a TorchScript file (spec.architecture "torchscript"); spec.numClasses 0 takes the model's.
std::shared_ptr<ModelState> CreateTorchScriptState(ModelSpec spec, const std::string& path, const std::string& device);

// Refuses a network whose parameters or buffers hold NaN or infinity (ERR_NON_FINITE naming the tensor);
// `source` starts the message (the file or "state").
void CheckFinite(const ModelState& model, const std::string& source);

// Sets a per-class logit bias on the network for one call and removes it afterwards.
class LogitBiasScope {
 public:
  LogitBiasScope(Classifier& net, const torch::Tensor& bias, const torch::Device& device) : net_(net) {
    if (bias.defined()) net_.logitBias = bias.to(device, torch::kFloat32);
  }
  ~LogitBiasScope() { net_.logitBias = torch::Tensor(); }

 private:
  Classifier& net_;
};

// A generator private to one call, so concurrent calls on different models stay deterministic.
at::Generator MakeGenerator(const torch::Device& device, uint64_t seed);

// Resolves "cpu" | "cuda" | "cuda:N" | "auto"; throws ClasswiseError for an unknown or absent device.
torch::Device ResolveDevice(const std::string& name);

}  // namespace classwise
