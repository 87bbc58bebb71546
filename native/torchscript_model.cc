#include "torchscript_model.h"

#include <torch/script.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "errors.h"

namespace classwise {
namespace {

// How to make a file this loader accepts, quoted in every "not TorchScript" message.
const char* const kExportRecipe =
    "export it in Python with: model.eval(); scripted = torch.jit.script(model)  "
    "(or torch.jit.trace(model, example_images)); torch.jit.save(scripted, 'model.pt'). "
    "The model must take images in [0,1] (normalisation inside) and return logits [N, classes]";

class TorchScriptClassifier : public Classifier {
 public:
  explicit TorchScriptClassifier(torch::jit::script::Module module) : module_(std::move(module)) {
    // Registered under this Module too (same tensors, dots made underscores), so freezing parameters
    // for attacks and the SGD step see them like any built-in model's.
    for (const auto& parameter : module_.named_parameters(/*recurse=*/true)) {
      std::string name = parameter.name;
      std::replace(name.begin(), name.end(), '.', '_');
      register_parameter(name, parameter.value, parameter.value.requires_grad());
    }
  }

  torch::Tensor forward(const torch::Tensor& images) override {
    torch::jit::IValue output = module_.forward({InLayout(images)});
    if (!output.isTensor()) {
      throw ClasswiseError(kInvalidArgument, "the TorchScript model's forward returned a " + output.tagKind() +
                                                 ", expected one tensor of logits [N, classes]");
    }
    return WithLogitBias(output.toTensor());
  }

  std::string OutputName() const override { return "the TorchScript model's logits"; }

  // A scripted model does not say which layer is its classifier: per-class weight norms are absent.
  torch::Tensor finalLayerWeight() override { return torch::Tensor(); }

  void train(bool on) override {
    torch::nn::Module::train(on);
    module_.train(on);
  }

 private:
  torch::jit::script::Module module_;
};

// Reads the file's start to tell a torch.save pickle or archive from TorchScript, for the error message.
std::string DescribeNonTorchScript(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const bool zip = bytes.rfind("PK", 0) == 0;
  if (zip && bytes.find("data.pkl") != std::string::npos && bytes.find("/code/") == std::string::npos) {
    return "it is a torch.save archive (a pickled state dict or model), not TorchScript";
  }
  if (!bytes.empty() && static_cast<unsigned char>(bytes[0]) == 0x80) {
    return "it is a legacy torch.save pickle (a state dict or model), not TorchScript";
  }
  return "it is not a TorchScript archive";
}

}  // namespace

std::shared_ptr<Classifier> LoadTorchScript(const std::string& path, ModelSpec& spec, const torch::Device& device) {
  if (!std::ifstream(path).good()) {
    throw ClasswiseError(kInvalidArgument, "TorchScript file \"" + path + "\" cannot be read (missing or no permission)");
  }
  torch::jit::script::Module module;
  try {
    module = torch::jit::load(path, device);
  } catch (const c10::Error& error) {
    throw ClasswiseError(kInvalidArgument, "\"" + path + "\" could not be loaded as TorchScript: " +
                                               DescribeNonTorchScript(path) + "; " + kExportRecipe);
  }
  module.eval();
  auto net = std::make_shared<TorchScriptClassifier>(std::move(module));
  net->eval();
  torch::Tensor logits;
  try {
    torch::NoGradGuard noGrad;
    logits = net->forward(torch::zeros({1, spec.channels, spec.height, spec.width},
                                       torch::TensorOptions().dtype(torch::kFloat32).device(device)));
  } catch (const ClasswiseError&) {
    throw;
  } catch (const std::exception& error) {
    std::string reason = error.what();
    reason = reason.substr(0, reason.find('\n'));
    throw ClasswiseError(kShapeMismatch, "the TorchScript model in \"" + path + "\" fails on images of shape [1, " +
                                             std::to_string(spec.channels) + ", " + std::to_string(spec.height) + ", " +
                                             std::to_string(spec.width) + "] (the dataset's): " + reason);
  }
  if (logits.dim() != 2 || logits.size(0) != 1 || logits.size(1) < 2) {
    throw ClasswiseError(kShapeMismatch, "the TorchScript model in \"" + path + "\" returned shape " +
                                             c10::str(logits.sizes()) + " for one image; expected logits [1, classes >= 2]");
  }
  if (spec.numClasses != 0 && spec.numClasses != logits.size(1)) {
    throw ClasswiseError(kShapeMismatch, "the TorchScript model in \"" + path + "\" has " +
                                             std::to_string(logits.size(1)) + " outputs but " +
                                             std::to_string(spec.numClasses) + " class names were given (the dataset's)");
  }
  if (!torch::isfinite(logits).all().item<bool>()) {
    throw ClasswiseError(kNonFinite, "the TorchScript model in \"" + path + "\" returns NaN or infinite logits for a black image " +
                                         "of shape [1, " + std::to_string(spec.channels) + ", " + std::to_string(spec.height) + ", " +
                                         std::to_string(spec.width) + "] (" + std::to_string(logits.isnan().sum().item<int64_t>()) +
                                         " NaN, " + std::to_string(logits.isinf().sum().item<int64_t>()) + " infinite of " +
                                         std::to_string(logits.numel()) + "); it must return finite logits: fix the model and export it again");
  }
  spec.numClasses = logits.size(1);
  return net;
}

}  // namespace classwise
