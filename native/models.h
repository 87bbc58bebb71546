// Classifiers with their input normalisation inside, so images stay in [0,1] and epsilon is in pixels.
// Parameter names match the PyTorch definitions in docs/models.md.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

namespace classwise {

struct ModelSpec {
  std::string architecture;  // "smallcnn" | "preact-resnet18" | "wide-resnet34-10" | "resnet50"
  int64_t numClasses = 10;
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;
  std::vector<double> mean;  // per channel
  std::vector<double> std;   // per channel
};

// (x - mean) / std with per-channel buffers, saved with the weights as normalize.mean / normalize.std.
struct NormalizeImpl : torch::nn::Module {
  NormalizeImpl(const std::vector<double>& mean, const std::vector<double>& std);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor mean, std;
};
TORCH_MODULE(Normalize);

// Every architecture exposes its logits and its final linear layer's weight (for per-class weight norms).
struct Classifier : torch::nn::Module {
  virtual torch::Tensor forward(const torch::Tensor& images) = 0;
  // [K, features]; undefined when the model has no known final linear layer (TorchScript).
  virtual torch::Tensor finalLayerWeight() = 0;

  // Class-wise mitigation at inference: a per-class bias added to the logits (undefined: none). Set only
  // for the duration of one evaluation or attack call, so attacks see the biased model they are judged on.
  torch::Tensor logitBias;
  // Logits leave the model in fp32 (bf16 under autocast), so losses, argmax and the attack's arithmetic stay fp32.
  torch::Tensor WithLogitBias(const torch::Tensor& logits) const {
    torch::Tensor full = logits.scalar_type() == torch::kFloat32 ? logits : logits.to(torch::kFloat32);
    if (checkNextLogits) {
      checkNextLogits = false;
      RefuseNonFiniteLogits(full);
    }
    return logitBias.defined() ? full + logitBias : full;
  }

  // Set by every native call on the model (model_binding.h): its first forward refuses NaN or infinite logits
  // (finite weights that overflow, a TorchScript model that computes NaN), one check per call, not per step.
  mutable bool checkNextLogits = false;
  // How messages name the output: "the model's logits", "the TorchScript model's output".
  virtual std::string OutputName() const { return "the model's logits"; }
  // ERR_NON_FINITE naming OutputName() and how many values are NaN or infinite; nothing when all are finite.
  void RefuseNonFiniteLogits(const torch::Tensor& logits) const;

  // The layout a call's fast path gives the input batch (channels_last with channels_last weights; fast_path.h).
  at::MemoryFormat inputFormat = at::MemoryFormat::Contiguous;
  torch::Tensor InLayout(const torch::Tensor& images) const {
    return images.dim() == 4 ? images.contiguous(inputFormat) : images;
  }
};

// Throws ClasswiseError naming the field for an unknown architecture or an input shape it cannot take.
std::shared_ptr<Classifier> BuildClassifier(const ModelSpec& spec);

// Architectures this build knows, for error messages.
const std::vector<std::string>& ArchitectureNames();

}  // namespace classwise
