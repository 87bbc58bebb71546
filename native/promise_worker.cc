#include "promise_worker.h"

#include <torch/torch.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

namespace classwise {

namespace {
std::atomic<int> configuredThreads{static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))};

// One thread runs the LibTorch work of every worker, whichever libuv thread picked the worker up. OpenMP (libgomp)
// keeps a team of helper threads for each thread that opens parallel regions; once the teams hold more threads than
// there are cores, it stops letting idle helpers spin and puts them to sleep after every region, so each of the
// thousands of regions in a PGD step pays a wake-up. With calls landing on two libuv threads, PreActResNet-18
// PGD-10 training on 2 cores ran at 22 img/s against 24-26 for PyTorch; PyTorch itself drops from 24 to 19.5 when
// one more thread opens a team (measured in the same way). Calls thus run one after another, which on the CPU they
// would compete for the same cores anyway.
class ComputeThread {
 public:
  static ComputeThread& Instance() {
    // Never destroyed: at exit the thread may be in the middle of a call, and joining it would hang the exit.
    static ComputeThread* instance = new ComputeThread();
    return *instance;
  }

  // Runs `work` on the compute thread and returns when it has finished; `work` must not throw.
  void Run(const std::function<void()>& work) {
    std::promise<void> finished;
    std::future<void> done = finished.get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back([&] {
        work();
        finished.set_value();
      });
    }
    ready_.notify_one();
    done.wait();
  }

 private:
  ComputeThread() { std::thread([this] { Loop(); }).detach(); }

  void Loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [&] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
};
}  // namespace

void SetWorkerThreads(int threads) { configuredThreads = threads; }

int WorkerThreads() { return configuredThreads; }

void KeepJsThreadSerial() {
  // The thread's count is set once, lazily, from the process-wide one: take that first, then lower it to one, so
  // the JS thread's own small LibTorch calls (building a model, reading weights) never open a second OpenMP team.
  at::get_num_threads();
  at::set_num_threads(1);
}

PromiseWorker::PromiseWorker(Napi::Env env, Napi::Value onProgress)
    : Napi::AsyncProgressQueueWorker<Progress>(env, "classwise-at"),
      deferred_(Napi::Promise::Deferred::New(env)) {
  if (onProgress.IsFunction()) onProgress_ = Napi::Persistent(onProgress.As<Napi::Function>());
}

Napi::Promise PromiseWorker::Start() {
  Queue();
  return deferred_.Promise();
}

void PromiseWorker::Execute(const Reporter& report) {
  bool failed = false;
  ComputeThread::Instance().Run([&] {
    try {
      // OpenMP thread counts are per calling thread: set ours on the compute thread.
      if (at::get_num_threads() != configuredThreads) at::set_num_threads(configuredThreads);
      Run(report);
    } catch (...) {
      failure_ = DescribeCurrentException();
      failed = true;
    }
  });
  if (failed) SetError(failure_.message);
}

void PromiseWorker::OnOK() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  if (!callbackError_.IsEmpty()) {
    deferred_.Reject(callbackError_.Value());
    return;
  }
  try {
    deferred_.Resolve(Result(env));
  } catch (const Napi::Error& e) {
    deferred_.Reject(e.Value());
  } catch (...) {
    ErrorInfo info = DescribeCurrentException();
    deferred_.Reject(MakeJsError(env, info.code, info.message).Value());
  }
}

void PromiseWorker::OnError(const Napi::Error&) {
  Napi::HandleScope scope(Env());
  deferred_.Reject(MakeJsError(Env(), failure_.code, failure_.message).Value());
}

void PromiseWorker::OnProgress(const Progress* data, size_t count) {
  if (onProgress_.IsEmpty() || !callbackError_.IsEmpty()) return;
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  for (size_t i = 0; i < count; ++i) {
    Napi::Object event = Napi::Object::New(env);
    event.Set("done", Napi::Number::New(env, static_cast<double>(data[i].done)));
    event.Set("total", Napi::Number::New(env, static_cast<double>(data[i].total)));
    event.Set("lossSum", Napi::Number::New(env, data[i].lossSum));
    event.Set("correct", Napi::Number::New(env, static_cast<double>(data[i].correct)));
    // A throwing progress callback rejects the promise once the work ends, instead of crashing.
    try {
      onProgress_.Call({event});
    } catch (const Napi::Error& e) {
      callbackError_ = Napi::Persistent(e.Value());
      return;
    }
  }
}

}  // namespace classwise
