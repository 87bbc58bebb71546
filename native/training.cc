#include "training.h"

#include <chrono>
#include <cmath>

#include "cuda_pipeline.h"
#include "errors.h"
#include "fairness.h"

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

// Keeps logarithms of probabilities finite (the constants of the TRADES and MART reference code).
constexpr double kLogFloor = 1e-12;
// TRADES starts its inner maximisation this close to the clean image (Gaussian noise).
constexpr double kTradesStartScale = 0.001;

// Mean over the batch of per-example losses, each weighted by its class's weight when weights are set.
torch::Tensor WeightedMean(const torch::Tensor& perExample, const torch::Tensor& labels, const TrainConfig& config) {
  if (!config.classWeights.defined()) return perExample.mean();
  return (perExample * config.classWeights.index_select(0, labels).to(perExample.scalar_type())).mean();
}

struct StepLoss {
  torch::Tensor loss;
  torch::Tensor logits;  // of the examples the accuracy is counted on (adversarial ones for AT)
};

// max_{j != y} p_j - p_y of each example (FAAL's margin), from logits that carry no gradient.
torch::Tensor Margins(const torch::Tensor& logits, const torch::Tensor& labels) {
  torch::Tensor probabilities = torch::softmax(logits.detach().to(torch::kFloat64), 1);
  torch::Tensor own = probabilities.gather(1, labels.unsqueeze(1)).squeeze(1);
  torch::Tensor others = probabilities.scatter(1, labels.unsqueeze(1), -1.0);
  return std::get<0>(others.max(1)) - own;
}

// FAAL's class weights for this batch, gathered per example; undefined when FAAL is off.
torch::Tensor FaalExampleWeights(const torch::Tensor& logits, const torch::Tensor& labels, const TrainConfig& config,
                                 int64_t classes) {
  if (config.faalRadius < 0) return torch::Tensor();
  torch::NoGradGuard noGrad;
  torch::Tensor margins = Margins(logits, labels);
  torch::Tensor sums = torch::zeros({classes}, margins.options()).index_add_(0, labels, margins);
  torch::Tensor counts = torch::zeros({classes}, margins.options()).index_add_(0, labels, torch::ones_like(margins));
  torch::Tensor means = (sums / counts.clamp_min(1)).cpu();
  torch::Tensor weights = FaalClassWeights(means, counts.gt(0).cpu(), config.faalRadius).to(logits.device());
  return weights.index_select(0, labels).to(logits.scalar_type());
}

StepLoss TradesLoss(Classifier& net, const torch::Tensor& images, const torch::Tensor& adversarial,
                    const torch::Tensor& labels, const TrainConfig& config) {
  torch::Tensor cleanLogits = net.forward(images);
  torch::Tensor adversarialLogits = net.forward(adversarial);
  torch::Tensor natural = F::cross_entropy(cleanLogits, labels, F::CrossEntropyFuncOptions().reduction(torch::kNone));
  torch::Tensor robust = F::kl_div(torch::log_softmax(adversarialLogits, 1), torch::softmax(cleanLogits, 1),
                                   F::KLDivFuncOptions().reduction(torch::kNone))
                             .sum(1);
  if (config.naturalWeights.defined()) natural = natural * config.naturalWeights.index_select(0, labels).to(natural.scalar_type());
  if (config.robustWeights.defined()) robust = robust * config.robustWeights.index_select(0, labels).to(robust.scalar_type());
  torch::Tensor perExample = natural + config.beta * robust;
  torch::Tensor faal = FaalExampleWeights(adversarialLogits, labels, config, cleanLogits.size(1));
  if (faal.defined()) perExample = perExample * faal;
  return {WeightedMean(perExample, labels, config), adversarialLogits};
}

StepLoss MartLoss(Classifier& net, const torch::Tensor& images, const torch::Tensor& adversarial,
                  const torch::Tensor& labels, const TrainConfig& config) {
  torch::Tensor cleanLogits = net.forward(images);
  torch::Tensor adversarialLogits = net.forward(adversarial);
  torch::Tensor adversarialProbabilities = torch::softmax(adversarialLogits, 1);
  // Boosted CE: also push down the most likely wrong class.
  torch::Tensor topTwo = std::get<1>(adversarialProbabilities.topk(2, 1));
  torch::Tensor wrong = torch::where(topTwo.select(1, 0).eq(labels), topTwo.select(1, 1), topTwo.select(1, 0));
  torch::Tensor boosted =
      F::cross_entropy(adversarialLogits, labels, F::CrossEntropyFuncOptions().reduction(torch::kNone)) +
      F::nll_loss(torch::log(1.0001 - adversarialProbabilities + kLogFloor), wrong,
                  F::NLLLossFuncOptions().reduction(torch::kNone));
  torch::Tensor cleanProbabilities = torch::softmax(cleanLogits, 1);
  torch::Tensor trueProbability = cleanProbabilities.gather(1, labels.unsqueeze(1)).squeeze(1);
  torch::Tensor kl = F::kl_div(torch::log(adversarialProbabilities + kLogFloor), cleanProbabilities,
                               F::KLDivFuncOptions().reduction(torch::kNone))
                         .sum(1);
  return {WeightedMean(boosted + config.beta * kl * (1.0000001 - trueProbability), labels, config),
          adversarialLogits};
}

}  // namespace

torch::Tensor TradesAdversarial(Classifier& net, const torch::Tensor& images, const AttackConfig& attack,
                                at::Generator& generator) {
  FrozenParameters frozen(net);
  torch::Tensor cleanProbabilities;
  {
    torch::NoGradGuard noGrad;
    cleanProbabilities = torch::softmax(net.forward(images), 1);
  }
  torch::Tensor noise = torch::empty_like(images).normal_(0.0, kTradesStartScale, generator);
  torch::Tensor delta = ProjectPerturbation(images, noise, attack);
  torch::Tensor stepScale = attack.exampleEps.defined() && attack.eps > 0 ? attack.exampleEps / attack.eps
                                                                          : torch::ones({}, images.options());
  for (int64_t step = 0; step < attack.steps; ++step) {
    delta.requires_grad_(true);
    torch::Tensor logProbabilities = torch::log_softmax(net.forward(images + delta), 1);
    torch::Tensor kl = F::kl_div(logProbabilities, cleanProbabilities, F::KLDivFuncOptions().reduction(torch::kSum));
    torch::Tensor grad = torch::autograd::grad({kl}, {delta})[0];
    torch::NoGradGuard noGrad;
    torch::Tensor move = attack.norm == AttackNorm::Linf
                             ? grad.sign()
                             : grad / grad.flatten(1).norm(2, 1).clamp_min(kLogFloor).view({-1, 1, 1, 1});
    delta = ProjectPerturbation(images, delta.detach() + attack.stepSize * move * stepScale, attack);
  }
  return (images + delta.detach()).clamp(0.0, 1.0);
}

TrainSummary TrainEpoch(ModelState& model, const TrainData& data, const TrainConfig& requested,
                        const ProgressSink& report) {
  TrainSummary summary;
  // Per-class settings move to the device once per epoch.
  TrainConfig config = requested;
  if (config.classWeights.defined()) config.classWeights = config.classWeights.to(model.device);
  if (config.classEps.defined()) config.classEps = config.classEps.to(model.device);
  if (config.naturalWeights.defined()) config.naturalWeights = config.naturalWeights.to(model.device);
  if (config.robustWeights.defined()) config.robustWeights = config.robustWeights.to(model.device);
  const int64_t classes = model.spec.numClasses;
  const auto deviceDouble = torch::TensorOptions().dtype(torch::kFloat64).device(model.device);
  const auto deviceLong = torch::TensorOptions().dtype(torch::kInt64).device(model.device);
  torch::Tensor classCount, classCorrect, classProbabilitySum, classMarginSum;
  if (config.classStatistics) {
    classCount = torch::zeros({classes}, deviceLong);
    classCorrect = torch::zeros({classes}, deviceLong);
    classProbabilitySum = torch::zeros({classes, classes}, deviceDouble);
    classMarginSum = torch::zeros({classes}, deviceDouble);
  }
  at::Generator generator = MakeGenerator(model.device, config.seed);
  // Augmentation draws from its own host generator so that the attack's noise is the same with or without it.
  at::Generator augmentGenerator = MakeGenerator(torch::kCPU, config.seed ^ 0x5eed5eedULL);
  Classifier& net = *model.net;
  net.train();
  const int64_t total = data.order.size(0);
  // Running sums stay on the device; they are read only when progress is reported.
  torch::Tensor lossSum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(model.device));
  torch::Tensor correct = torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(model.device));
  const int64_t steps = (total + config.batchSize - 1) / config.batchSize;
  torch::Tensor firstNonFinite = torch::full({}, steps, torch::TensorOptions().dtype(torch::kInt64).device(model.device));
  // A diverged epoch stops at the next progress read, naming the step where the loss left the finite numbers.
  auto stopIfDiverged = [&] {
    const int64_t bad = firstNonFinite.item<int64_t>();
    if (bad >= steps) return;
    throw ClasswiseError(kNonFinite, (config.epoch > 0 ? "epoch " + std::to_string(config.epoch) + ", " : std::string()) +
                                         "step " + std::to_string(bad + 1) + " of " + std::to_string(steps) +
                                         ": the training loss is NaN or infinite at learning rate " +
                                         FormatNumber(data.learningRates[bad].item<double>()) +
                                         "; training diverged (lower the learning rate)");
  };
  // Data parallelism: the attack draws its random start for the global batch and keeps this rank's rows.
  const int64_t ranks = config.group ? config.group->worldSize() : 1;
  if (config.group) {
    config.attack.noiseShards = ranks;
    config.attack.noiseShard = config.group->rank();
  }
  auto parameters = net.parameters();
  auto lastReport = std::chrono::steady_clock::now();
  // Batch i + 1 is augmented and travels to the device while batch i trains (augmentation draws stay in order).
  DevicePrefetch prefetch(model.device);
  auto hostBatch = [&](int64_t start) {
    torch::Tensor indices = data.order.slice(0, start, std::min(total, start + config.batchSize));
    return std::vector<torch::Tensor>{AugmentBatch(data.images.index_select(0, indices), config.augment, augmentGenerator),
                                      data.labels.index_select(0, indices)};
  };
  if (total > 0) prefetch.Stage(hostBatch(0));
  for (int64_t start = 0, step = 0; start < total; start += config.batchSize, ++step) {
    const int64_t end = std::min(total, start + config.batchSize);
    std::vector<torch::Tensor> staged = prefetch.Take();
    if (end < total) prefetch.Stage(hostBatch(end));
    torch::Tensor images = staged[0].to(torch::kFloat32).div_(255.0);
    torch::Tensor labels = staged[1];

    AttackConfig attack = config.attack;
    if (config.classEps.defined()) {
      attack.exampleEps = config.classEps.index_select(0, labels).to(images.scalar_type()).view({-1, 1, 1, 1});
    }
    torch::Tensor loss, logits;
    if (config.method == TrainMethod::Trades) {
      net.eval();
      torch::Tensor adversarial = TradesAdversarial(net, images, attack, generator);
      net.train();
      net.zero_grad();
      StepLoss step = TradesLoss(net, images, adversarial, labels, config);
      loss = step.loss;
      logits = step.logits;
    } else if (config.method == TrainMethod::Mart) {
      net.eval();
      torch::Tensor adversarial = TrainingAdversarial(net, images, labels, attack, generator);
      net.train();
      net.zero_grad();
      StepLoss step = MartLoss(net, images, adversarial, labels, config);
      loss = step.loss;
      logits = step.logits;
    } else {
      torch::Tensor inputs = images;
      if (config.method != TrainMethod::Standard) {
        inputs = TrainingAdversarial(net, images, labels, attack, generator);
      }
      net.zero_grad();
      logits = net.forward(inputs);
      torch::Tensor faal = FaalExampleWeights(logits, labels, config, classes);
      if (faal.defined()) {
        loss = WeightedMean(F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().reduction(torch::kNone)) * faal,
                            labels, config);
      } else {
        loss = config.classWeights.defined()
                   ? WeightedMean(F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().reduction(torch::kNone)),
                                  labels, config)
                   : F::cross_entropy(logits, labels);
      }
    }
    // The first step whose loss is NaN or infinite, kept on the device and read with the progress sums.
    loss.backward();
    torch::Tensor stepLoss = loss.detach().reshape({1}).clone();
    if (config.group) {
      // Each rank's gradient is the mean over its equal share of the global batch: the sum over the ranks divided
      // by their number is the gradient of the mean over the global batch. The loss rides along in the buckets,
      // so that every rank sees a NaN on any rank and all stop at the same step.
      std::vector<torch::Tensor> reduced{stepLoss};
      for (const torch::Tensor& parameter : parameters) {
        if (parameter.grad().defined()) reduced.push_back(parameter.grad());
      }
      config.group->AllReduceSum(reduced, "the gradient all-reduce of " +
                                              (config.epoch > 0 ? "epoch " + std::to_string(config.epoch) + ", " : std::string()) +
                                              "step " + std::to_string(step + 1));
      torch::NoGradGuard noGrad;
      for (torch::Tensor& tensor : reduced) tensor.div_(static_cast<double>(ranks));
    }
    firstNonFinite = torch::where(torch::isfinite(stepLoss[0]), firstNonFinite, firstNonFinite.clamp_max(step));
    // Ranks must stop at the same step, or the others would wait in the next all-reduce.
    if (config.group) stopIfDiverged();
    SgdStep(model, data.learningRates[step].item<double>(), config);

    const int64_t batch = (end - start) * ranks;
    summary.steps += 1;
    summary.seen += batch;
    {
      torch::NoGradGuard noGrad;
      lossSum.add_(stepLoss[0].to(torch::kFloat64) * batch);
      correct.add_(logits.argmax(1).eq(labels).sum());
      if (config.classStatistics) {
        torch::Tensor detached = logits.detach();
        classCount.index_add_(0, labels, torch::ones_like(labels));
        classCorrect.index_add_(0, labels, detached.argmax(1).eq(labels).to(torch::kInt64));
        classProbabilitySum.index_add_(0, labels, torch::softmax(detached.to(torch::kFloat64), 1));
        classMarginSum.index_add_(0, labels, Margins(detached, labels));
      }
    }
    auto now = std::chrono::steady_clock::now();
    if (end == total || now - lastReport >= kProgressInterval) {
      stopIfDiverged();
      // Progress between all-reduces extrapolates the accuracy from this rank's shard; the summary is exact.
      report({summary.seen, total * ranks, lossSum.item<double>(), correct.item<int64_t>() * ranks});
      lastReport = now;
    }
  }
  if (config.group) {
    config.group->AllReduceSum({correct}, "the training accuracy sum of " +
                                              (config.epoch > 0 ? "epoch " + std::to_string(config.epoch) : std::string("the epoch")));
  }
  if (config.classStatistics && config.group) {
    config.group->AllReduceSum({classCount, classCorrect, classProbabilitySum, classMarginSum}, "the per-class training statistics");
  }
  summary.lossSum = lossSum.item<double>();
  summary.correct = correct.item<int64_t>();
  if (config.classStatistics) {
    summary.classCount = classCount.cpu();
    summary.classCorrect = classCorrect.cpu();
    summary.classProbabilitySum = classProbabilitySum.cpu();
    summary.classMarginSum = classMarginSum.cpu();
  }
  return summary;
}

}  // namespace classwise
