#include "models.h"

#include "errors.h"

namespace classwise {
namespace {

namespace F = torch::nn::functional;

torch::nn::Conv2d Conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, bool bias) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(bias));
}

// TRADES' MNIST network (Zhang et al. 2019), without dropout.
struct SmallCnnFeaturesImpl : torch::nn::Module {
  SmallCnnFeaturesImpl(int64_t channels)
      : conv1(register_module("conv1", Conv(channels, 32, /*kernel=*/3, 1, 0, true))),
        conv2(register_module("conv2", Conv(32, 32, 3, 1, 0, true))),
        conv3(register_module("conv3", Conv(32, 64, 3, 1, 0, true))),
        conv4(register_module("conv4", Conv(64, 64, 3, 1, 0, true))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = torch::relu(conv2(torch::relu(conv1(x))));
    x = F::max_pool2d(x, F::MaxPool2dFuncOptions(2));
    x = torch::relu(conv4(torch::relu(conv3(x))));
    return F::max_pool2d(x, F::MaxPool2dFuncOptions(2));
  }
  torch::nn::Conv2d conv1, conv2, conv3, conv4;
};
TORCH_MODULE(SmallCnnFeatures);

struct SmallCnnClassifierImpl : torch::nn::Module {
  SmallCnnClassifierImpl(int64_t features, int64_t classes)
      : fc1(register_module("fc1", torch::nn::Linear(features, 200))),
        fc2(register_module("fc2", torch::nn::Linear(200, 200))),
        fc3(register_module("fc3", torch::nn::Linear(200, classes))) {}
  torch::Tensor forward(torch::Tensor x) {
    return fc3(torch::relu(fc2(torch::relu(fc1(x)))));
  }
  torch::nn::Linear fc1, fc2, fc3;
};
TORCH_MODULE(SmallCnnClassifier);

struct SmallCnn : Classifier {
  explicit SmallCnn(const ModelSpec& spec) {
    // Two (conv3x3, conv3x3, pool2) stages: each side shrinks by 4 then halves, twice.
    const int64_t h = ((spec.height - 4) / 2 - 4) / 2;
    const int64_t w = ((spec.width - 4) / 2 - 4) / 2;
    if (h < 1 || w < 1) {
      throw ClasswiseError(kInvalidArgument, "smallcnn needs images of at least 12x12, got " +
                                                 std::to_string(spec.height) + "x" + std::to_string(spec.width));
    }
    normalize = register_module("normalize", Normalize(spec.mean, spec.std));
    feature_extractor = register_module("feature_extractor", SmallCnnFeatures(spec.channels));
    classifier = register_module("classifier", SmallCnnClassifier(64 * h * w, spec.numClasses));
    // TRADES' initialisation: Kaiming-normal convolutions with zero bias, a zero last layer.
    torch::NoGradGuard noGrad;
    for (auto& module : feature_extractor->children()) {
      if (auto* conv = module->as<torch::nn::Conv2d>()) {
        torch::nn::init::kaiming_normal_(conv->weight);
        torch::nn::init::zeros_(conv->bias);
      }
    }
    torch::nn::init::zeros_(classifier->fc3->weight);
    torch::nn::init::zeros_(classifier->fc3->bias);
  }
  torch::Tensor forward(const torch::Tensor& images) override {
    return WithLogitBias(classifier->forward(feature_extractor->forward(normalize->forward(images)).flatten(1)));
  }
  torch::Tensor finalLayerWeight() override { return classifier->fc3->weight; }

  Normalize normalize{nullptr};
  SmallCnnFeatures feature_extractor{nullptr};
  SmallCnnClassifier classifier{nullptr};
};

// Pre-activation basic block (He et al. 2016) as in Wong et al. / Rice et al.
struct PreActBlockImpl : torch::nn::Module {
  PreActBlockImpl(int64_t inPlanes, int64_t planes, int64_t stride)
      : bn1(register_module("bn1", torch::nn::BatchNorm2d(inPlanes))),
        conv1(register_module("conv1", Conv(inPlanes, planes, 3, stride, 1, false))),
        bn2(register_module("bn2", torch::nn::BatchNorm2d(planes))),
        conv2(register_module("conv2", Conv(planes, planes, 3, 1, 1, false))) {
    if (stride != 1 || inPlanes != planes) {
      shortcut = register_module("shortcut", torch::nn::Sequential(Conv(inPlanes, planes, 1, stride, 0, false)));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor out = torch::relu(bn1(x));
    torch::Tensor skip = shortcut ? shortcut->forward(out) : x;
    out = conv1(out);
    out = conv2(torch::relu(bn2(out)));
    return out + skip;
  }
  torch::nn::BatchNorm2d bn1, bn2;
  torch::nn::Conv2d conv1, conv2;
  torch::nn::Sequential shortcut{nullptr};
};
TORCH_MODULE(PreActBlock);

struct PreActResNet18 : Classifier {
  explicit PreActResNet18(const ModelSpec& spec) {
    normalize = register_module("normalize", Normalize(spec.mean, spec.std));
    conv1 = register_module("conv1", Conv(spec.channels, 64, 3, 1, 1, false));
    int64_t inPlanes = 64;
    auto makeLayer = [&](const char* name, int64_t planes, int64_t stride) {
      torch::nn::Sequential layer;
      layer->push_back(PreActBlock(inPlanes, planes, stride));
      layer->push_back(PreActBlock(planes, planes, 1));
      inPlanes = planes;
      return register_module(name, layer);
    };
    layer1 = makeLayer("layer1", 64, 1);
    layer2 = makeLayer("layer2", 128, 2);
    layer3 = makeLayer("layer3", 256, 2);
    layer4 = makeLayer("layer4", 512, 2);
    bn = register_module("bn", torch::nn::BatchNorm2d(512));
    linear = register_module("linear", torch::nn::Linear(512, spec.numClasses));
  }
  torch::Tensor forward(const torch::Tensor& images) override {
    torch::Tensor out = conv1(normalize->forward(images));
    out = layer4->forward(layer3->forward(layer2->forward(layer1->forward(out))));
    out = torch::relu(bn(out));
    // Adaptive pooling equals avg_pool2d(4) on 32x32 inputs and also serves larger images.
    out = F::adaptive_avg_pool2d(out, F::AdaptiveAvgPool2dFuncOptions(1));
    return WithLogitBias(linear(out.flatten(1)));
  }
  torch::Tensor finalLayerWeight() override { return linear->weight; }

  Normalize normalize{nullptr};
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Linear linear{nullptr};
};

}  // namespace

NormalizeImpl::NormalizeImpl(const std::vector<double>& meanValues, const std::vector<double>& stdValues) {
  auto asChannels = [](const std::vector<double>& values) {
    return torch::tensor(values, torch::kFloat32).view({1, -1, 1, 1});
  };
  mean = register_buffer("mean", asChannels(meanValues));
  std = register_buffer("std", asChannels(stdValues));
}

torch::Tensor NormalizeImpl::forward(const torch::Tensor& x) { return (x - mean) / std; }

const std::vector<std::string>& ArchitectureNames() {
  static const std::vector<std::string> names = {"smallcnn", "preact-resnet18"};
  return names;
}

std::shared_ptr<Classifier> BuildClassifier(const ModelSpec& spec) {
  if (spec.numClasses < 2) {
    throw ClasswiseError(kOutOfRange, "numClasses must be at least 2, got " + std::to_string(spec.numClasses));
  }
  if (static_cast<int64_t>(spec.mean.size()) != spec.channels ||
      static_cast<int64_t>(spec.std.size()) != spec.channels) {
    throw ClasswiseError(kShapeMismatch, "mean and std need one value per channel (" +
                                             std::to_string(spec.channels) + "), got " +
                                             std::to_string(spec.mean.size()) + " and " +
                                             std::to_string(spec.std.size()));
  }
  for (double s : spec.std) {
    if (!(s > 0)) throw ClasswiseError(kOutOfRange, "std values must be > 0, got " + std::to_string(s));
  }
  if (spec.architecture == "smallcnn") return std::make_shared<SmallCnn>(spec);
  if (spec.architecture == "preact-resnet18") return std::make_shared<PreActResNet18>(spec);
  throw ClasswiseError(kInvalidArgument, "unknown architecture \"" + spec.architecture +
                                             "\"; accepted: smallcnn, preact-resnet18");
}

}  // namespace classwise
