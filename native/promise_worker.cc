#include "promise_worker.h"

#include <torch/torch.h>

#include <atomic>
#include <thread>

namespace classwise {

namespace {
std::atomic<int> configuredThreads{static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))};
}  // namespace

void SetWorkerThreads(int threads) {
  configuredThreads = threads;
  at::set_num_threads(threads);
}

int WorkerThreads() { return configuredThreads; }

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
  try {
    // OpenMP thread counts are per calling thread: set ours on this worker thread.
    if (at::get_num_threads() != configuredThreads) at::set_num_threads(configuredThreads);
    Run(report);
  } catch (...) {
    failure_ = DescribeCurrentException();
    SetError(failure_.message);
  }
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
