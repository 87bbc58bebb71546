#include "cuda_pipeline.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

#ifdef CLASSWISE_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace classwise {

#ifdef CLASSWISE_WITH_CUDA

// An ordering point between streams. The runtime API directly: LibTorch moved its CUDAEvent from at::cuda to
// c10::cuda between the versions this builds against.
class StreamEvent {
 public:
  StreamEvent() { C10_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming)); }
  ~StreamEvent() { cudaEventDestroy(event_); }
  StreamEvent(const StreamEvent&) = delete;
  StreamEvent& operator=(const StreamEvent&) = delete;
  void Record(const c10::cuda::CUDAStream& stream) { C10_CUDA_CHECK(cudaEventRecord(event_, stream.stream())); }
  // Later work on `stream` waits for what was recorded.
  void Block(const c10::cuda::CUDAStream& stream) { C10_CUDA_CHECK(cudaStreamWaitEvent(stream.stream(), event_, 0)); }

 private:
  cudaEvent_t event_ = nullptr;
};

struct CudaGraphScope::Captured {
  at::cuda::CUDAGraph graph;
  // Static inputs the graph reads and the output it writes: each batch is copied in, the result cloned out.
  torch::Tensor images, labels, goal, start, result;
};

struct DevicePrefetch::State {
  c10::cuda::CUDAStream copyStream;
  StreamEvent copied;
  explicit State(c10::DeviceIndex index) : copyStream(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, index)) {}
};

namespace {

thread_local std::map<std::string, std::unique_ptr<CudaGraphScope::Captured>>* activeGraphs = nullptr;

// Everything the captured kernels depend on besides the tensors copied in per batch.
std::string GraphKey(const torch::Tensor& images, const AttackConfig& config) {
  std::ostringstream key;
  key << images.sizes() << '|' << images.strides() << '|' << static_cast<int>(config.norm) << '|'
      << static_cast<int>(config.loss) << '|' << config.eps << '|' << config.stepSize << '|' << config.steps << '|'
      << config.temperature << '|' << config.targeted;
  return key.str();
}

bool GraphSafe(const torch::Tensor& images, const AttackConfig& config) {
  // Per-example budgets change with the batch's labels; kept eager (training with class-wise eps only).
  return activeGraphs != nullptr && images.is_cuda() && !config.exampleEps.defined() && config.steps > 0;
}

// CLASSWISE_CUDA_GRAPHS=0 runs the PGD steps eagerly on CUDA too (to compare, or to rule graphs out).
bool GraphsWanted() {
  const char* setting = std::getenv("CLASSWISE_CUDA_GRAPHS");
  return !(setting && std::strcmp(setting, "0") == 0);
}

}  // namespace

CudaGraphScope::CudaGraphScope(const torch::Device& device) : active_(device.is_cuda() && GraphsWanted()) {
  if (active_) activeGraphs = &graphs_;
}

CudaGraphScope::~CudaGraphScope() {
  if (!active_) return;
  activeGraphs = nullptr;
  // Replays may still be running on the device when the call ends.
  c10::cuda::getCurrentCUDAStream().synchronize();
  graphs_.clear();
}

torch::Tensor RunPgdSteps(const torch::Tensor& images, const torch::Tensor& labels, const torch::Tensor& goal,
                          const torch::Tensor& start, const AttackConfig& config, const PgdSteps& steps) {
  if (!GraphSafe(images, config)) return steps(images, labels, goal, start);
  auto& slot = (*activeGraphs)[GraphKey(images, config)];
  torch::NoGradGuard noGrad;
  if (!slot) {
    auto captured = std::make_unique<CudaGraphScope::Captured>();
    captured->images = images.clone();
    captured->labels = labels.clone();
    captured->goal = goal.clone();
    captured->start = start.clone();
    // Capture runs on a side stream; the first (eager) run there warms up cuDNN and the autograd engine.
    c10::cuda::CUDAStream callerStream = c10::cuda::getCurrentCUDAStream(images.device().index());
    c10::cuda::CUDAStream captureStream = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, images.device().index());
    StreamEvent ready;
    ready.Record(callerStream);
    ready.Block(captureStream);
    {
      c10::cuda::CUDAStreamGuard onCapture(captureStream);
      torch::AutoGradMode gradients(true);
      steps(captured->images, captured->labels, captured->goal, captured->start);
      captureStream.synchronize();
      captured->graph.capture_begin();
      captured->result = steps(captured->images, captured->labels, captured->goal, captured->start);
      captured->graph.capture_end();
    }
    StreamEvent done;
    done.Record(captureStream);
    done.Block(callerStream);
    slot = std::move(captured);
  }
  slot->images.copy_(images);
  slot->labels.copy_(labels);
  slot->goal.copy_(goal);
  slot->start.copy_(start);
  slot->graph.replay();
  return slot->result.clone();
}

DevicePrefetch::DevicePrefetch(const torch::Device& device) : device_(device) {
  if (device_.is_cuda()) state_ = std::make_unique<State>(device_.index());
}

DevicePrefetch::~DevicePrefetch() = default;

void DevicePrefetch::Stage(const std::vector<torch::Tensor>& host) {
  staged_.clear();
  if (!state_) {
    for (const auto& tensor : host) staged_.push_back(tensor.to(device_));
    return;
  }
  c10::cuda::CUDAStreamGuard onCopy(state_->copyStream);
  for (const auto& tensor : host) staged_.push_back(tensor.contiguous().pin_memory().to(device_, /*non_blocking=*/true));
  state_->copied.Record(state_->copyStream);
}

std::vector<torch::Tensor> DevicePrefetch::Take() {
  if (state_) {
    c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(device_.index());
    state_->copied.Block(current);
    // The allocator must not hand these blocks out again before the current stream is done with them.
    for (auto& tensor : staged_) c10::cuda::CUDACachingAllocator::recordStream(tensor.storage().data_ptr(), current);
  }
  return std::move(staged_);
}

#else  // no CUDA in this build: the eager path.

struct CudaGraphScope::Captured {};
struct DevicePrefetch::State {};

CudaGraphScope::CudaGraphScope(const torch::Device&) {}
CudaGraphScope::~CudaGraphScope() = default;

torch::Tensor RunPgdSteps(const torch::Tensor& images, const torch::Tensor& labels, const torch::Tensor& goal,
                          const torch::Tensor& start, const AttackConfig&, const PgdSteps& steps) {
  return steps(images, labels, goal, start);
}

DevicePrefetch::DevicePrefetch(const torch::Device& device) : device_(device) {}
DevicePrefetch::~DevicePrefetch() = default;

void DevicePrefetch::Stage(const std::vector<torch::Tensor>& host) {
  staged_.clear();
  for (const auto& tensor : host) staged_.push_back(tensor.to(device_));
}

std::vector<torch::Tensor> DevicePrefetch::Take() { return std::move(staged_); }

#endif

}  // namespace classwise
