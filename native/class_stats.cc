#include "class_stats.h"

#include "cuda_pipeline.h"

namespace classwise {
namespace {

namespace F = torch::nn::functional;

// Adds bincount(true * K + predicted) into a K x K matrix: one kernel, no host loop.
void AccumulateConfusion(torch::Tensor& confusion, const torch::Tensor& truth, const torch::Tensor& predicted) {
  const int64_t classes = confusion.size(0);
  confusion.view(-1).add_(torch::bincount(truth * classes + predicted, /*weights=*/{}, classes * classes));
}

}  // namespace

torch::Tensor FinalLayerRowNorms(Classifier& net) {
  torch::NoGradGuard noGrad;
  torch::Tensor weight = net.finalLayerWeight();
  // Absent (TorchScript): an empty array, which the report shows as "not available".
  if (!weight.defined()) return torch::empty({0}, torch::kFloat64);
  return weight.to(torch::kFloat64).norm(2, 1).cpu();
}

ClassStatistics EvaluateClasses(ModelState& model, const EvaluationData& data, const EvaluationConfig& config,
                                const ProgressSink& report) {
  const int64_t classes = model.spec.numClasses;
  const int64_t total = data.images.size(0);
  auto onDevice = [&](torch::ScalarType type) { return torch::TensorOptions().dtype(type).device(model.device); };
  ClassStatistics stats;
  stats.cleanConfusion = torch::zeros({classes, classes}, onDevice(torch::kInt64));
  stats.adversarialConfusion = torch::zeros({classes, classes}, onDevice(torch::kInt64));
  stats.cleanLossSum = torch::zeros({classes}, onDevice(torch::kFloat64));
  stats.gradientNormSum = torch::zeros({classes}, onDevice(torch::kFloat64));
  stats.cleanPredictions = torch::empty({total}, onDevice(torch::kInt64));
  stats.adversarialPredictions = torch::empty({total}, onDevice(torch::kInt64));

  at::Generator generator = MakeGenerator(model.device, config.seed);
  Classifier& net = *model.net;
  net.eval();
  // Batch i + 1 travels to the device while batch i computes.
  DevicePrefetch prefetch(model.device);
  auto hostBatch = [&](int64_t start) {
    const int64_t end = std::min(total, start + config.batchSize);
    std::vector<torch::Tensor> host = {data.images.slice(0, start, end), data.labels.slice(0, start, end)};
    if (data.targets.defined()) host.push_back(data.targets.slice(0, start, end));
    return host;
  };
  if (total > 0) prefetch.Stage(hostBatch(0));
  for (int64_t start = 0; start < total; start += config.batchSize) {
    const int64_t end = std::min(total, start + config.batchSize);
    std::vector<torch::Tensor> batch = prefetch.Take();
    if (end < total) prefetch.Stage(hostBatch(end));
    torch::Tensor images = batch[0].to(torch::kFloat32).div_(255.0);
    torch::Tensor labels = batch[1];
    torch::Tensor targets = data.targets.defined() ? batch[2] : labels;

    // Clean pass with the input gradient, for per-class loss and gradient-norm statistics.
    torch::Tensor cleanPredictions;
    {
      FrozenParameters frozen(net);
      torch::Tensor input = images.clone().requires_grad_(true);
      torch::Tensor logits = net.forward(input);
      torch::Tensor loss = F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().reduction(torch::kNone));
      torch::Tensor grad = torch::autograd::grad({loss.sum()}, {input})[0];
      torch::NoGradGuard noGrad;
      cleanPredictions = logits.argmax(1);
      stats.cleanLossSum.index_add_(0, labels, loss.detach().to(torch::kFloat64));
      stats.gradientNormSum.index_add_(0, labels, grad.flatten(1).norm(2, 1).to(torch::kFloat64));
    }
    AttackResult attacked = RunAttack(net, images, labels, targets, config.attack, generator);

    torch::NoGradGuard noGrad;
    AccumulateConfusion(stats.cleanConfusion, labels, cleanPredictions);
    AccumulateConfusion(stats.adversarialConfusion, labels, attacked.predictions);
    stats.cleanPredictions.slice(0, start, end).copy_(cleanPredictions);
    stats.adversarialPredictions.slice(0, start, end).copy_(attacked.predictions);
    if (attacked.brokenBy.defined()) {
      if (!stats.brokenBy.defined()) stats.brokenBy = torch::full({total}, kStageRobust, onDevice(torch::kInt64));
      stats.brokenBy.slice(0, start, end).copy_(attacked.brokenBy);
    }
    report({end, total, 0.0, 0});
  }
  stats.weightNorms = FinalLayerRowNorms(net);
  for (torch::Tensor* t : {&stats.cleanConfusion, &stats.adversarialConfusion, &stats.cleanLossSum,
                           &stats.gradientNormSum, &stats.cleanPredictions, &stats.adversarialPredictions,
                           &stats.brokenBy}) {
    if (t->defined()) *t = t->cpu();
  }
  return stats;
}

}  // namespace classwise
