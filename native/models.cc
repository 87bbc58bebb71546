#include "models.h"

#include "errors.h"
#include "packed_conv.h"

namespace classwise {
namespace {

namespace F = torch::nn::functional;

// Every ReLU here follows a layer whose backward pass does not need its output (convolution, linear, batch norm,
// a sum), so it may overwrite it: one activation-sized buffer and one pass over memory fewer per ReLU, forward
// and backward alike. Same numbers as torch::relu.
torch::Tensor ReluInPlace(torch::Tensor x) { return x.relu_(); }

PackableConv2d Conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, bool bias) {
  return PackableConv2d(
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
    x = ReluInPlace(conv2(ReluInPlace(conv1(x))));
    x = F::max_pool2d(x, F::MaxPool2dFuncOptions(2));
    x = ReluInPlace(conv4(ReluInPlace(conv3(x))));
    return F::max_pool2d(x, F::MaxPool2dFuncOptions(2));
  }
  PackableConv2d conv1, conv2, conv3, conv4;
};
TORCH_MODULE(SmallCnnFeatures);

struct SmallCnnClassifierImpl : torch::nn::Module {
  SmallCnnClassifierImpl(int64_t features, int64_t classes)
      : fc1(register_module("fc1", torch::nn::Linear(features, 200))),
        fc2(register_module("fc2", torch::nn::Linear(200, 200))),
        fc3(register_module("fc3", torch::nn::Linear(200, classes))) {}
  torch::Tensor forward(torch::Tensor x) {
    return fc3(ReluInPlace(fc2(ReluInPlace(fc1(x)))));
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
      throw ClasswiseError(kInvalidArgument, "smallcnn needs images of at least 16x16, got " +
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
    return WithLogitBias(classifier->forward(feature_extractor->forward(normalize->forward(InLayout(images))).flatten(1)));
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
    torch::Tensor out = ReluInPlace(bn1(x));
    torch::Tensor skip = shortcut ? shortcut->forward(out) : x;
    out = conv1(out);
    out = conv2(ReluInPlace(bn2(out)));
    return out + skip;
  }
  torch::nn::BatchNorm2d bn1, bn2;
  PackableConv2d conv1, conv2;
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
    torch::Tensor out = conv1(normalize->forward(InLayout(images)));
    out = layer4->forward(layer3->forward(layer2->forward(layer1->forward(out))));
    out = ReluInPlace(bn(out));
    // Adaptive pooling equals avg_pool2d(4) on 32x32 inputs and also serves larger images.
    out = F::adaptive_avg_pool2d(out, F::AdaptiveAvgPool2dFuncOptions(1));
    return WithLogitBias(linear(out.flatten(1)));
  }
  torch::Tensor finalLayerWeight() override { return linear->weight; }

  Normalize normalize{nullptr};
  PackableConv2d conv1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Linear linear{nullptr};
};

// Wide-ResNet basic block with TRADES' names (bn1, relu1, conv1, bn2, relu2, conv2, convShortcut); no dropout.
struct WideBasicBlockImpl : torch::nn::Module {
  WideBasicBlockImpl(int64_t inPlanes, int64_t outPlanes, int64_t stride)
      : equalInOut(inPlanes == outPlanes),
        bn1(register_module("bn1", torch::nn::BatchNorm2d(inPlanes))),
        conv1(register_module("conv1", Conv(inPlanes, outPlanes, 3, stride, 1, false))),
        bn2(register_module("bn2", torch::nn::BatchNorm2d(outPlanes))),
        conv2(register_module("conv2", Conv(outPlanes, outPlanes, 3, 1, 1, false))) {
    if (!equalInOut) convShortcut = register_module("convShortcut", Conv(inPlanes, outPlanes, 1, stride, 0, false));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor activated = ReluInPlace(bn1(x));
    torch::Tensor out = conv2(ReluInPlace(bn2(conv1(activated))));
    return out + (equalInOut ? x : convShortcut(activated));
  }
  bool equalInOut;
  torch::nn::BatchNorm2d bn1, bn2;
  PackableConv2d conv1, conv2, convShortcut{nullptr};
};
TORCH_MODULE(WideBasicBlock);

// A stage of Wide-ResNet blocks, holding them under `layer` as TRADES' NetworkBlock does.
struct NetworkBlockImpl : torch::nn::Module {
  NetworkBlockImpl(int64_t blocks, int64_t inPlanes, int64_t outPlanes, int64_t stride) {
    layer = register_module("layer", torch::nn::Sequential());
    for (int64_t i = 0; i < blocks; ++i) layer->push_back(WideBasicBlock(i == 0 ? inPlanes : outPlanes, outPlanes, i == 0 ? stride : 1));
  }
  torch::Tensor forward(const torch::Tensor& x) { return layer->forward(x); }
  torch::nn::Sequential layer{nullptr};
};
TORCH_MODULE(NetworkBlock);

// WideResNet-34-10 (Zagoruyko & Komodakis) as in TRADES/MART: 5 blocks per stage, widths 160/320/640.
struct WideResNet34 : Classifier {
  static constexpr int64_t kDepth = 34;
  static constexpr int64_t kWiden = 10;
  explicit WideResNet34(const ModelSpec& spec) {
    const int64_t blocks = (kDepth - 4) / 6;
    const int64_t widths[] = {16, 16 * kWiden, 32 * kWiden, 64 * kWiden};
    normalize = register_module("normalize", Normalize(spec.mean, spec.std));
    conv1 = register_module("conv1", Conv(spec.channels, widths[0], 3, 1, 1, false));
    block1 = register_module("block1", NetworkBlock(blocks, widths[0], widths[1], /*stride=*/1));
    block2 = register_module("block2", NetworkBlock(blocks, widths[1], widths[2], 2));
    block3 = register_module("block3", NetworkBlock(blocks, widths[2], widths[3], 2));
    bn1 = register_module("bn1", torch::nn::BatchNorm2d(widths[3]));
    fc = register_module("fc", torch::nn::Linear(widths[3], spec.numClasses));
    // TRADES' initialisation: He-normal (fan_out) convolutions, zero linear bias.
    torch::NoGradGuard noGrad;
    for (auto& module : modules(/*include_self=*/false)) {
      if (auto* conv = module->as<torch::nn::Conv2d>()) {
        torch::nn::init::kaiming_normal_(conv->weight, 0, torch::kFanOut, torch::kReLU);
      }
    }
    torch::nn::init::zeros_(fc->bias);
  }
  torch::Tensor forward(const torch::Tensor& images) override {
    torch::Tensor out = conv1(normalize->forward(InLayout(images)));
    out = ReluInPlace(bn1(block3(block2(block1(out)))));
    out = F::adaptive_avg_pool2d(out, F::AdaptiveAvgPool2dFuncOptions(1));
    return WithLogitBias(fc(out.flatten(1)));
  }
  torch::Tensor finalLayerWeight() override { return fc->weight; }

  Normalize normalize{nullptr};
  PackableConv2d conv1{nullptr};
  NetworkBlock block1{nullptr}, block2{nullptr}, block3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Linear fc{nullptr};
};

// torchvision's Bottleneck (ResNet v1.5: stride on the 3x3 convolution), same parameter names.
struct BottleneckImpl : torch::nn::Module {
  static constexpr int64_t kExpansion = 4;
  BottleneckImpl(int64_t inPlanes, int64_t planes, int64_t stride)
      : conv1(register_module("conv1", Conv(inPlanes, planes, 1, 1, 0, false))),
        bn1(register_module("bn1", torch::nn::BatchNorm2d(planes))),
        conv2(register_module("conv2", Conv(planes, planes, 3, stride, 1, false))),
        bn2(register_module("bn2", torch::nn::BatchNorm2d(planes))),
        conv3(register_module("conv3", Conv(planes, planes * kExpansion, 1, 1, 0, false))),
        bn3(register_module("bn3", torch::nn::BatchNorm2d(planes * kExpansion))) {
    if (stride != 1 || inPlanes != planes * kExpansion) {
      downsample = register_module("downsample", torch::nn::Sequential(
          Conv(inPlanes, planes * kExpansion, 1, stride, 0, false), torch::nn::BatchNorm2d(planes * kExpansion)));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor out = ReluInPlace(bn1(conv1(x)));
    out = ReluInPlace(bn2(conv2(out)));
    out = bn3(conv3(out));
    return ReluInPlace(out + (downsample ? downsample->forward(x) : x));
  }
  PackableConv2d conv1, conv2, conv3;
  torch::nn::BatchNorm2d bn1, bn2, bn3;
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Bottleneck);

// torchvision.models.resnet50 with the normalisation inside.
struct ResNet50 : Classifier {
  explicit ResNet50(const ModelSpec& spec) {
    normalize = register_module("normalize", Normalize(spec.mean, spec.std));
    conv1 = register_module("conv1", Conv(spec.channels, 64, /*kernel=*/7, /*stride=*/2, /*padding=*/3, false));
    bn1 = register_module("bn1", torch::nn::BatchNorm2d(64));
    int64_t inPlanes = 64;
    auto makeLayer = [&](const char* name, int64_t planes, int64_t blocks, int64_t stride) {
      torch::nn::Sequential layer;
      for (int64_t i = 0; i < blocks; ++i) {
        layer->push_back(Bottleneck(inPlanes, planes, i == 0 ? stride : 1));
        inPlanes = planes * BottleneckImpl::kExpansion;
      }
      return register_module(name, layer);
    };
    layer1 = makeLayer("layer1", 64, 3, 1);
    layer2 = makeLayer("layer2", 128, 4, 2);
    layer3 = makeLayer("layer3", 256, 6, 2);
    layer4 = makeLayer("layer4", 512, 3, 2);
    fc = register_module("fc", torch::nn::Linear(512 * BottleneckImpl::kExpansion, spec.numClasses));
    // torchvision's initialisation: He-normal (fan_out) convolutions; BN weight 1, bias 0 (the default).
    torch::NoGradGuard noGrad;
    for (auto& module : modules(/*include_self=*/false)) {
      if (auto* conv = module->as<torch::nn::Conv2d>()) {
        torch::nn::init::kaiming_normal_(conv->weight, 0, torch::kFanOut, torch::kReLU);
      }
    }
  }
  torch::Tensor forward(const torch::Tensor& images) override {
    torch::Tensor out = ReluInPlace(bn1(conv1(normalize->forward(InLayout(images)))));
    out = F::max_pool2d(out, F::MaxPool2dFuncOptions(3).stride(2).padding(1));
    out = layer4->forward(layer3->forward(layer2->forward(layer1->forward(out))));
    out = F::adaptive_avg_pool2d(out, F::AdaptiveAvgPool2dFuncOptions(1));
    return WithLogitBias(fc(out.flatten(1)));
  }
  torch::Tensor finalLayerWeight() override { return fc->weight; }

  Normalize normalize{nullptr};
  PackableConv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  torch::nn::Linear fc{nullptr};
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
  static const std::vector<std::string> names = {"smallcnn", "preact-resnet18", "wide-resnet34-10", "resnet50"};
  return names;
}

void Classifier::RefuseNonFiniteLogits(const torch::Tensor& logits) const {
  torch::NoGradGuard noGrad;
  if (torch::isfinite(logits).all().item<bool>()) return;
  const torch::Tensor values = logits.detach();
  const int64_t nan = values.isnan().sum().item<int64_t>();
  const int64_t infinite = values.isinf().sum().item<int64_t>();
  bool finiteWeights = true;
  for (const torch::Tensor& parameter : parameters()) {
    if (!torch::isfinite(parameter.detach()).all().item<bool>()) finiteWeights = false;
  }
  throw ClasswiseError(kNonFinite, OutputName() + " for the first batch hold " + std::to_string(nan) + " NaN and " +
                                       std::to_string(infinite) + " infinite values of " + std::to_string(values.numel()) +
                                       (finiteWeights ? " although its weights are finite: a layer overflows float32 "
                                                        "(weights far too large) or the model computes NaN; "
                                                      : " (its weights hold NaN or infinite values); ") +
                                       "fix or retrain the model before evaluating, attacking or training it");
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
  if (spec.architecture == "wide-resnet34-10") return std::make_shared<WideResNet34>(spec);
  if (spec.architecture == "resnet50") return std::make_shared<ResNet50>(spec);
  std::string accepted;
  for (const auto& name : ArchitectureNames()) accepted += (accepted.empty() ? "" : ", ") + name;
  throw ClasswiseError(kInvalidArgument, "unknown architecture \"" + spec.architecture + "\"; accepted: " + accepted);
}

}  // namespace classwise
