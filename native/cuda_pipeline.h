// The CUDA side of the fast path. The PGD loop is captured once per call and batch shape as a CUDA graph and
// replayed for every batch and restart (static shapes, no host sync inside); host batches reach the device one
// ahead, copied from pinned memory on a side stream while the current batch computes. Without CUDA (or on a CPU
// model) both fall back to the plain eager path.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "attacks.h"

namespace classwise {

// The steps of one PGD restart: images, labels, goal and the starting perturbation in, the final perturbation out.
using PgdSteps = std::function<torch::Tensor(const torch::Tensor& images, const torch::Tensor& labels,
                                             const torch::Tensor& goal, const torch::Tensor& start)>;

// Replays `steps` from a graph captured on the first batch of this shape in the current call, when a
// CudaGraphScope is active on this thread and the attack is graph-safe (CUDA tensors, one budget for every
// example); otherwise runs `steps` eagerly.
torch::Tensor RunPgdSteps(const torch::Tensor& images, const torch::Tensor& labels, const torch::Tensor& goal,
                          const torch::Tensor& start, const AttackConfig& config, const PgdSteps& steps);

// Graphs captured during one native call (they hold the addresses of that call's weights and buffers), freed with
// it. Set on the worker thread, around the call's work; CLASSWISE_CUDA_GRAPHS=0 turns graphs off.
class CudaGraphScope {
 public:
  explicit CudaGraphScope(const torch::Device& device);
  ~CudaGraphScope();
  CudaGraphScope(const CudaGraphScope&) = delete;
  CudaGraphScope& operator=(const CudaGraphScope&) = delete;

  struct Captured;

 private:
  bool active_ = false;
  std::map<std::string, std::unique_ptr<Captured>> graphs_;
};

// Host tensors to the device one batch ahead: Stage() starts the copies of the next batch (pinned memory, side
// stream on CUDA), Take() hands them over, ready for the current stream. On CPU it hands the tensors through.
class DevicePrefetch {
 public:
  explicit DevicePrefetch(const torch::Device& device);
  ~DevicePrefetch();
  void Stage(const std::vector<torch::Tensor>& host);
  std::vector<torch::Tensor> Take();

  struct State;

 private:
  torch::Device device_;
  std::vector<torch::Tensor> staged_;
  std::unique_ptr<State> state_;
};

}  // namespace classwise
