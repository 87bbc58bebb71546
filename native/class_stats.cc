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

// Batch b's attack noise comes from its own generator: batch 0 from the evaluation's seed, later ones from a
// mix of the seed and b (splitmix64). A batch draws the same whatever ran before it, so a data-parallel
// evaluation, where a rank attacks every W-th batch, draws what one process draws.
uint64_t BatchNoiseSeed(uint64_t seed, int64_t batch) {
  if (batch == 0) return seed;
  uint64_t z = seed + static_cast<uint64_t>(batch) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (z ^ (z >> 31)) >> 1;
}

// Salt of the TRADES start noise's seed, so that the evaluation attack's noise is the same with or without it.
constexpr uint64_t kTradesNoiseSalt = 0x7a3d5e11ULL;

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
  if (config.tradesAttack.enabled) stats.tradesKlSum = torch::zeros({classes}, onDevice(torch::kFloat64));
  // Rows of the batches other ranks attack stay zero, so the sum over the ranks fills every row once.
  stats.cleanPredictions = torch::zeros({total}, onDevice(torch::kInt64));
  stats.adversarialPredictions = torch::zeros({total}, onDevice(torch::kInt64));
  const int64_t ranks = config.group ? config.group->worldSize() : 1;
  const int64_t rank = config.group ? config.group->rank() : 0;
  if (config.group && config.attack.enabled && config.attack.algorithm == AttackAlgorithm::Ensemble) {
    stats.brokenBy = torch::zeros({total}, onDevice(torch::kInt64));
  }

  Classifier& net = *model.net;
  net.eval();
  // Rank r attacks batches r, r + W, ...; batch i + 1 of this rank travels to the device while batch i computes.
  DevicePrefetch prefetch(model.device);
  auto hostBatch = [&](int64_t start) {
    const int64_t end = std::min(total, start + config.batchSize);
    std::vector<torch::Tensor> host = {data.images.slice(0, start, end), data.labels.slice(0, start, end)};
    if (data.targets.defined()) host.push_back(data.targets.slice(0, start, end));
    return host;
  };
  const int64_t stride = ranks * config.batchSize;
  if (rank * config.batchSize < total) prefetch.Stage(hostBatch(rank * config.batchSize));
  for (int64_t start = rank * config.batchSize, batch = rank; start < total; start += stride, batch += ranks) {
    const int64_t end = std::min(total, start + config.batchSize);
    at::Generator generator = MakeGenerator(model.device, BatchNoiseSeed(config.seed, batch));
    std::vector<torch::Tensor> staged = prefetch.Take();
    if (start + stride < total) prefetch.Stage(hostBatch(start + stride));
    torch::Tensor images = staged[0].to(torch::kFloat32).div_(255.0);
    torch::Tensor labels = staged[1];
    torch::Tensor targets = data.targets.defined() ? staged[2] : labels;

    // Clean pass with the input gradient, for per-class loss and gradient-norm statistics (in the call's
    // precision); the clean predictions are decisions, made in fp32 (DecisionLogits).
    torch::Tensor cleanPredictions;
    {
      FrozenParameters frozen(net);
      torch::Tensor input = images.clone().requires_grad_(true);
      torch::Tensor logits = net.forward(input);
      torch::Tensor loss = F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().reduction(torch::kNone));
      torch::Tensor grad = torch::autograd::grad({loss.sum()}, {input})[0];
      torch::NoGradGuard noGrad;
      cleanPredictions = DecisionsRejudged(images.device()) ? DecisionLogits(net, images).argmax(1) : logits.argmax(1);
      stats.cleanLossSum.index_add_(0, labels, loss.detach().to(torch::kFloat64));
      stats.gradientNormSum.index_add_(0, labels, grad.flatten(1).norm(2, 1).to(torch::kFloat64));
    }
    if (config.tradesAttack.enabled) {
      at::Generator tradesGenerator = MakeGenerator(model.device, BatchNoiseSeed(config.seed ^ kTradesNoiseSalt, batch));
      torch::Tensor adversarial = TradesAdversarial(net, images, config.tradesAttack, tradesGenerator);
      torch::NoGradGuard noGrad;
      torch::Tensor kl = F::kl_div(torch::log_softmax(net.forward(adversarial), 1), torch::softmax(net.forward(images), 1),
                                   F::KLDivFuncOptions().reduction(torch::kNone))
                             .sum(1);
      stats.tradesKlSum.index_add_(0, labels, kl.to(torch::kFloat64));
    }
    AttackResult attacked = RunAttack(net, images, labels, targets, config.attack, generator);

    torch::NoGradGuard noGrad;
    // Robust means correct both clean and under attack (RobustBench's and AutoAttack's definition): the clean
    // point is in the ball, so a clean mistake stays one even where a random start lands in the right class.
    const torch::Tensor adversarialPredictions =
        torch::where(cleanPredictions.ne(labels), cleanPredictions, attacked.predictions);
    AccumulateConfusion(stats.cleanConfusion, labels, cleanPredictions);
    AccumulateConfusion(stats.adversarialConfusion, labels, adversarialPredictions);
    stats.cleanPredictions.slice(0, start, end).copy_(cleanPredictions);
    stats.adversarialPredictions.slice(0, start, end).copy_(adversarialPredictions);
    if (attacked.brokenBy.defined()) {
      if (!stats.brokenBy.defined()) stats.brokenBy = torch::full({total}, kStageRobust, onDevice(torch::kInt64));
      stats.brokenBy.slice(0, start, end).copy_(attacked.brokenBy);
    }
    report({end, total, 0.0, 0});
  }
  if (config.group) {
    std::vector<torch::Tensor> sums{stats.cleanConfusion, stats.adversarialConfusion, stats.cleanLossSum,
                                    stats.gradientNormSum, stats.cleanPredictions, stats.adversarialPredictions};
    if (stats.brokenBy.defined()) sums.push_back(stats.brokenBy);
    if (stats.tradesKlSum.defined()) sums.push_back(stats.tradesKlSum);
    config.group->AllReduceSum(sums, "the evaluation's per-class sums");
  }
  stats.weightNorms = FinalLayerRowNorms(net);
  for (torch::Tensor* t : {&stats.cleanConfusion, &stats.adversarialConfusion, &stats.cleanLossSum,
                           &stats.gradientNormSum, &stats.cleanPredictions, &stats.adversarialPredictions,
                           &stats.brokenBy, &stats.tradesKlSum}) {
    if (t->defined()) *t = t->cpu();
  }
  return stats;
}

}  // namespace classwise
