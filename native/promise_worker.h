// Native work is taken up by a libuv thread, runs on the one compute thread (promise_worker.cc) and settles a
// promise; progress reaches JS through a queue, so the event loop never waits on LibTorch.
#pragma once

#include <napi.h>

#include <string>

#include "errors.h"

namespace classwise {

// Intra-op threads used by every worker (all cores unless set). Workers run their LibTorch work on one compute
// thread (promise_worker.cc says why).
void SetWorkerThreads(int threads);
int WorkerThreads();
// At load, on the JS thread: its own LibTorch calls run on one thread (no second OpenMP team).
void KeepJsThreadSerial();

struct Progress {
  int64_t done = 0;
  int64_t total = 0;
  double lossSum = 0;   // running sum over `done` examples (0 when not meaningful)
  int64_t correct = 0;  // running count over `done` examples
};

class PromiseWorker : public Napi::AsyncProgressQueueWorker<Progress> {
 public:
  PromiseWorker(Napi::Env env, Napi::Value onProgress);

  // Queues the work and returns the promise it settles.
  Napi::Promise Start();

 protected:
  using Reporter = Napi::AsyncProgressQueueWorker<Progress>::ExecutionProgress;

  // Runs on the worker thread: touch only the worker's own C++ members (the baton).
  virtual void Run(const Reporter& report) = 0;
  // Runs on the JS thread after Run succeeded.
  virtual Napi::Value Result(Napi::Env env) = 0;

 private:
  void Execute(const Reporter& report) final;
  void OnOK() final;
  void OnError(const Napi::Error& error) final;
  void OnProgress(const Progress* data, size_t count) final;

  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference onProgress_;
  ErrorInfo failure_;
  Napi::ObjectReference callbackError_;
};

}  // namespace classwise
