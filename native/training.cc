#include "training.h"

#include <chrono>

namespace classwise {
namespace {

namespace F = torch::nn::functional;

// Progress events at most this often, so JavaScript hears of long epochs without per-step traffic.
constexpr auto kProgressInterval = std::chrono::milliseconds(200);

// SGD as torch.optim.SGD (dampening 0): d = g + wd*p; buf = m*buf + d; step = nesterov ? d + m*buf : buf.
void SgdStep(ModelState& model, double learningRate, const TrainConfig& config) {
  torch::NoGradGuard noGrad;
  auto parameters = model.net->parameters();
  for (size_t i = 0; i < parameters.size(); ++i) {
    torch::Tensor& parameter = parameters[i];
    if (!parameter.grad().defined()) continue;
    torch::Tensor step = parameter.grad();
    if (config.weightDecay != 0) step = step.add(parameter, config.weightDecay);
    if (config.momentum != 0) {
      torch::Tensor& buffer = model.momentum[i];
      buffer.mul_(config.momentum).add_(step);
      step = config.nesterov ? step.add(buffer, config.momentum) : buffer;
    }
    parameter.add_(step, -learningRate);
  }
}

}  // namespace

torch::Tensor ToUnitFloat(const torch::Tensor& pixels, const torch::Device& device) {
  return pixels.to(device, /*non_blocking=*/true).to(torch::kFloat32).div_(255.0);
}

TrainSummary TrainEpoch(ModelState& model, const TrainData& data, const TrainConfig& config,
                        const ProgressSink& report) {
  TrainSummary summary;
  at::Generator generator = MakeGenerator(model.device, config.seed);
  // Augmentation draws from its own host generator so that the attack's noise is the same with or without it.
  at::Generator augmentGenerator = MakeGenerator(torch::kCPU, config.seed ^ 0x5eed5eedULL);
  Classifier& net = *model.net;
  net.train();
  const int64_t total = data.order.size(0);
  // Running sums stay on the device; they are read only when progress is reported.
  torch::Tensor lossSum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(model.device));
  torch::Tensor correct = torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(model.device));
  auto lastReport = std::chrono::steady_clock::now();
  for (int64_t start = 0, step = 0; start < total; start += config.batchSize, ++step) {
    const int64_t end = std::min(total, start + config.batchSize);
    torch::Tensor indices = data.order.slice(0, start, end);
    torch::Tensor pixels = AugmentBatch(data.images.index_select(0, indices), config.augment, augmentGenerator);
    torch::Tensor images = ToUnitFloat(pixels, model.device);
    torch::Tensor labels = data.labels.index_select(0, indices).to(model.device);

    torch::Tensor inputs = images;
    if (config.method != TrainMethod::Standard) {
      inputs = RunAttack(net, images, labels, labels, config.attack, generator).adversarial;
    }
    net.zero_grad();
    torch::Tensor logits = net.forward(inputs);
    torch::Tensor loss = F::cross_entropy(logits, labels);
    loss.backward();
    SgdStep(model, data.learningRates[step].item<double>(), config);

    const int64_t batch = end - start;
    summary.steps += 1;
    summary.seen += batch;
    {
      torch::NoGradGuard noGrad;
      lossSum.add_(loss.detach().to(torch::kFloat64) * batch);
      correct.add_(logits.argmax(1).eq(labels).sum());
    }
    auto now = std::chrono::steady_clock::now();
    if (end == total || now - lastReport >= kProgressInterval) {
      report({summary.seen, total, lossSum.item<double>(), correct.item<int64_t>()});
      lastReport = now;
    }
  }
  summary.lossSum = lossSum.item<double>();
  summary.correct = correct.item<int64_t>();
  return summary;
}

}  // namespace classwise
