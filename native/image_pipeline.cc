#include "image_pipeline.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "jpeg_decoder.h"
#include "tensor_bridge.h"

namespace classwise {

namespace {

// Most decoding threads one call may ask for.
constexpr int64_t kMaxDecodeThreads = 256;
// Per-example seed as src/data/imagenet.ts: (seed * 1000003 + index) mod 2^52, in doubles as JavaScript computes it.
constexpr double kExampleSeedMultiplier = 1000003.0;
constexpr double kExampleSeedModulus = 4503599627370496.0;  // 2^52

// A job: `count` items run by whichever pool threads take them; the caller waits for all of them.
struct DecodeJob {
  int64_t count = 0;
  int maxWorkers = 1;
  std::function<void(int64_t)> task;
  std::atomic<int64_t> next{0};
  std::atomic<int> workers{0};
  int64_t finished = 0;  // under the pool's mutex
  std::condition_variable done;
};

// Grows to the largest thread count asked for; a job uses at most its own count. Never destroyed (threads may be
// mid-job at exit).
class DecodePool {
 public:
  static DecodePool& Instance() {
    static DecodePool* pool = new DecodePool();
    return *pool;
  }

  void Run(int threads, int64_t count, std::function<void(int64_t)> task) {
    if (count == 0) return;
    auto job = std::make_shared<DecodeJob>();
    job->count = count;
    job->maxWorkers = threads;
    job->task = std::move(task);
    std::unique_lock<std::mutex> lock(mutex_);
    while (static_cast<int>(threads_.size()) < threads) threads_.emplace_back([this] { Loop(); });
    jobs_.push_back(job);
    ready_.notify_all();
    job->done.wait(lock, [&] { return job->finished == job->count; });
  }

 private:
  // A queued job with work left and room for another thread; under the mutex.
  std::shared_ptr<DecodeJob> TakeableJob() {
    for (auto& candidate : jobs_) {
      if (candidate->workers < candidate->maxWorkers && candidate->next < candidate->count) return candidate;
    }
    return nullptr;
  }

  void Loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      std::shared_ptr<DecodeJob> job;
      ready_.wait(lock, [&] { return (job = TakeableJob()) != nullptr; });
      ++job->workers;
      lock.unlock();
      int64_t ran = 0;
      for (int64_t item; (item = job->next.fetch_add(1)) < job->count; ++ran) job->task(item);
      lock.lock();
      --job->workers;
      job->finished += ran;
      // Only the worker whose items complete the job removes it: a worker that found no item left (ran 0) may come
      // back after the job was removed, and erasing it again would erase end().
      if (ran > 0 && job->finished == job->count) {
        jobs_.erase(std::find(jobs_.begin(), jobs_.end(), job));
        job->done.notify_all();
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::shared_ptr<DecodeJob>> jobs_;
  std::vector<std::thread> threads_;
};

bool ReadWholeFile(const std::string& file, std::vector<uint8_t>* bytes, std::string* reason) {
  const int descriptor = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) {
    *reason = "cannot be opened";
    return false;
  }
  // Straight into `bytes`, sized by fstat (one byte more finds the end without growing; a file that grows meanwhile
  // is read to its end).
  struct stat info;
  bytes->resize(::fstat(descriptor, &info) == 0 && info.st_size > 0 ? static_cast<size_t>(info.st_size) + 1 : size_t(1) << 16);
  size_t length = 0;
  for (;;) {
    if (length == bytes->size()) bytes->resize(bytes->size() * 2);
    const ssize_t got = ::read(descriptor, bytes->data() + length, bytes->size() - length);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      ::close(descriptor);
      *reason = "cannot be read";
      return false;
    }
    if (got == 0) break;
    length += static_cast<size_t>(got);
  }
  ::close(descriptor);
  bytes->resize(length);
  return true;
}

// The crop of one example: its random draws depend on the batch seed and the example's index only.
ImageTransform ExampleTransform(int size, bool augment, double seed, double index, bool decodeWholeImage = false) {
  ImageTransform transform;
  transform.decodeWholeImage = decodeWholeImage;
  transform.outputSize = size;
  transform.augment = augment;
  const double exampleSeed = std::fmod(seed * kExampleSeedMultiplier + index, kExampleSeedModulus);
  transform.randomSeed = static_cast<uint32_t>(static_cast<uint64_t>(exampleSeed) & 0xffffffffu);
  return transform;
}

// What a decode worker resolves with: { status: Int32Array, reasons: string[] }, one entry per image.
Napi::Object DecodeResult(Napi::Env env, const std::vector<int32_t>& statuses, const std::vector<std::string>& reasonTexts) {
  Napi::Object result = Napi::Object::New(env);
  Napi::Int32Array status = Napi::Int32Array::New(env, statuses.size());
  std::copy(statuses.begin(), statuses.end(), status.Data());
  Napi::Array reasons = Napi::Array::New(env, reasonTexts.size());
  for (size_t k = 0; k < reasonTexts.size(); ++k) reasons.Set(static_cast<uint32_t>(k), reasonTexts[k]);
  result.Set("status", status);
  result.Set("reasons", reasons);
  return result;
}

class DecodeBatchWorker : public Napi::AsyncWorker {
 public:
  DecodeBatchWorker(Napi::Env env, std::vector<std::string> files, std::vector<double> indices, Napi::Uint8Array out,
                    int size, bool augment, double seed, int threads, bool decodeWholeImage)
      : Napi::AsyncWorker(env, "classwise-at:decode"),
        deferred_(Napi::Promise::Deferred::New(env)),
        files_(std::move(files)),
        indices_(std::move(indices)),
        out_(out.Data()),
        size_(size),
        augment_(augment),
        seed_(seed),
        threads_(threads),
        decodeWholeImage_(decodeWholeImage),
        status_(files_.size(), static_cast<int32_t>(DecodeStatus::kNeedsFallback)),
        reasons_(files_.size()) {
    // The caller's batch buffer stays alive while the pool writes into it.
    outRef_ = Napi::Persistent(out.As<Napi::Object>());
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    const size_t plane = static_cast<size_t>(size_) * size_ * 3;
    DecodePool::Instance().Run(threads_, static_cast<int64_t>(files_.size()), [this, plane](int64_t k) {
      std::vector<uint8_t> bytes;
      std::string reason;
      try {
        if (!ReadWholeFile(files_[k], &bytes, &reason)) {
          reasons_[k] = reason;
          return;
        }
        const ImageTransform transform = ExampleTransform(size_, augment_, seed_, indices_[k], decodeWholeImage_);
        status_[k] = static_cast<int32_t>(DecodeJpegCrop(bytes.data(), bytes.size(), transform, out_ + k * plane, &reason));
        reasons_[k] = reason;
      } catch (const std::exception& e) {
        // Out of memory on a huge image, say: the fallback decoder gets its turn and names the file if it fails.
        status_[k] = static_cast<int32_t>(DecodeStatus::kNeedsFallback);
        reasons_[k] = e.what();
      }
    });
  }

  void OnOK() override { deferred_.Resolve(DecodeResult(Env(), status_, reasons_)); }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference outRef_;
  std::vector<std::string> files_;
  std::vector<double> indices_;
  uint8_t* out_;
  int size_;
  bool augment_;
  double seed_;
  int threads_;
  bool decodeWholeImage_;
  std::vector<int32_t> status_;
  std::vector<std::string> reasons_;
};

// A read-only memory map of a whole file, unmapped when it goes out of scope.
class MappedFile {
 public:
  explicit MappedFile(const std::string& file) {
    const int descriptor = ::open(file.c_str(), O_RDONLY);
    if (descriptor < 0) return;
    struct stat info;
    if (::fstat(descriptor, &info) == 0 && info.st_size > 0) {
      void* mapped = ::mmap(nullptr, static_cast<size_t>(info.st_size), PROT_READ, MAP_SHARED, descriptor, 0);
      if (mapped != MAP_FAILED) {
        data_ = static_cast<const uint8_t*>(mapped);
        size_ = static_cast<size_t>(info.st_size);
      }
    }
    ::close(descriptor);
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Images of a packed dataset: entry k is `lengths[k]` bytes at `offsets[k]` of the pack, a JPEG or (raw[k]) the
// widths[k] x heights[k] interleaved RGB pixels. The pack is memory-mapped for the batch: pages, not files.
class PackedBatchWorker : public Napi::AsyncWorker {
 public:
  PackedBatchWorker(Napi::Env env, std::string file, Napi::Uint8Array out, int size, bool augment, double seed, int threads)
      : Napi::AsyncWorker(env, "classwise-at:decode-pack"),
        deferred_(Napi::Promise::Deferred::New(env)),
        file_(std::move(file)),
        out_(out.Data()),
        size_(size),
        augment_(augment),
        seed_(seed),
        threads_(threads) {
    outRef_ = Napi::Persistent(out.As<Napi::Object>());
  }

  std::vector<double> indices, offsets;
  std::vector<int64_t> lengths;
  std::vector<int> widths, heights;
  std::vector<uint8_t> raw;

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    status_.assign(indices.size(), static_cast<int32_t>(DecodeStatus::kNeedsFallback));
    reasons_.assign(indices.size(), std::string());
    MappedFile pack(file_);
    if (!pack.data()) {
      std::fill(reasons_.begin(), reasons_.end(), "the pack cannot be opened or mapped");
      return;
    }
    const size_t plane = static_cast<size_t>(size_) * size_ * 3;
    DecodePool::Instance().Run(threads_, static_cast<int64_t>(indices.size()), [this, plane, &pack](int64_t k) {
      std::string reason;
      try {
        // Written so that NaN offsets fail too: an index entry is only trusted inside the mapped bytes.
        const double end = offsets[k] + static_cast<double>(lengths[k]);
        if (!(offsets[k] >= 0) || lengths[k] <= 0 || !(end <= static_cast<double>(pack.size()))) {
          reasons_[k] = "the entry lies beyond the end of the pack";
          return;
        }
        const uint8_t* bytes = pack.data() + static_cast<size_t>(offsets[k]);
        const ImageTransform transform = ExampleTransform(size_, augment_, seed_, indices[k]);
        DecodeStatus status;
        if (raw[k]) {
          if (widths[k] <= 0 || heights[k] <= 0 || static_cast<int64_t>(widths[k]) * heights[k] * 3 != lengths[k]) {
            reasons_[k] = "raw entry's length is not width x height x 3";
            return;
          }
          status = DecodeRgbCrop(bytes, widths[k], heights[k], transform, out_ + k * plane, &reason);
        } else {
          status = DecodeJpegCrop(bytes, static_cast<size_t>(lengths[k]), transform, out_ + k * plane, &reason);
        }
        status_[k] = static_cast<int32_t>(status);
        reasons_[k] = reason;
      } catch (const std::exception& e) {
        status_[k] = static_cast<int32_t>(DecodeStatus::kNeedsFallback);
        reasons_[k] = e.what();
      }
    });
  }

  void OnOK() override { deferred_.Resolve(DecodeResult(Env(), status_, reasons_)); }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference outRef_;
  std::string file_;
  uint8_t* out_;
  int size_;
  bool augment_;
  double seed_;
  int threads_;
  std::vector<int32_t> status_;
  std::vector<std::string> reasons_;
};

}  // namespace

// decodeImageBatch(files: string[], out: Uint8Array, { size, augment, seed, indices: Int32Array, threads,
//   decodeWholeImage (tests only: ImageTransform::decodeWholeImage) })
//   -> Promise<{ status: Int32Array (0 decoded, 1 needs the fallback decoder), reasons: string[] }>
// Image k lands at out[k * 3 * size * size ...] as CHW planes; indices[k] is its example index (its crop's seed).
Napi::Value DecodeImageBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    const std::string where = "decodeImageBatch";
    if (info.Length() < 3 || !info[0].IsArray() || !info[1].IsTypedArray() ||
        info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw ClasswiseError(kInvalidArgument, where + " takes (files: string[], out: Uint8Array, { size, augment, seed, indices, threads })");
    }
    Napi::Array fileArray = info[0].As<Napi::Array>();
    Napi::Uint8Array out = info[1].As<Napi::Uint8Array>();
    Napi::Object options = ObjectArgument(info, 2, where + " options");
    const int size = static_cast<int>(IntegerOption(options, "size", 224, 1, 4096, where + " options"));
    const bool augment = BoolOption(options, "augment", false, where + " options");
    const double seed = static_cast<double>(IntegerOption(options, "seed", 0, 0, (int64_t(1) << 53) - 1, where + " options"));
    const int threads = static_cast<int>(IntegerOption(options, "threads", 1, 1, kMaxDecodeThreads, where + " options"));
    const bool decodeWholeImage = BoolOption(options, "decodeWholeImage", false, where + " options");
    std::vector<std::string> files(fileArray.Length());
    for (uint32_t k = 0; k < fileArray.Length(); ++k) {
      if (!fileArray.Get(k).IsString()) throw ClasswiseError(kInvalidArgument, where + ": files[" + std::to_string(k) + "] must be a string");
      files[k] = fileArray.Get(k).As<Napi::String>().Utf8Value();
    }
    std::vector<double> indices(files.size());
    Napi::Value indexValue = options.Get("indices");
    if (!indexValue.IsTypedArray() || indexValue.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
        indexValue.As<Napi::Int32Array>().ElementLength() != files.size()) {
      throw ClasswiseError(kInvalidArgument, where + " options.indices must be an Int32Array of files.length (" + std::to_string(files.size()) + ")");
    }
    Napi::Int32Array indexArray = indexValue.As<Napi::Int32Array>();
    for (size_t k = 0; k < files.size(); ++k) indices[k] = indexArray[k];
    const size_t needed = files.size() * static_cast<size_t>(size) * size * 3;
    if (out.ElementLength() < needed) {
      throw ClasswiseError(kShapeMismatch, where + ": out has " + std::to_string(out.ElementLength()) + " bytes, " +
                                               std::to_string(files.size()) + " images of 3x" + std::to_string(size) + "x" +
                                               std::to_string(size) + " need " + std::to_string(needed));
    }
    auto* worker = new DecodeBatchWorker(env, std::move(files), std::move(indices), out, size, augment, seed, threads, decodeWholeImage);
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  });
}

// decodePackedBatch(pack: string, out: Uint8Array, { size, augment, seed, indices: Int32Array, threads,
//   offsets: Float64Array, lengths: Int32Array, widths: Int32Array, heights: Int32Array, raw: Uint8Array })
//   -> Promise<{ status: Int32Array, reasons: string[] }>, as decodeImageBatch for entries of a packed dataset.
Napi::Value DecodePackedBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Guarded(env, [&]() -> Napi::Value {
    const std::string where = "decodePackedBatch";
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsTypedArray() ||
        info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw ClasswiseError(kInvalidArgument, where + " takes (pack: string, out: Uint8Array, { size, augment, seed, indices, threads, offsets, lengths, widths, heights, raw })");
    }
    Napi::Uint8Array out = info[1].As<Napi::Uint8Array>();
    Napi::Object options = ObjectArgument(info, 2, where + " options");
    const int size = static_cast<int>(IntegerOption(options, "size", 224, 1, 4096, where + " options"));
    const bool augment = BoolOption(options, "augment", false, where + " options");
    const double seed = static_cast<double>(IntegerOption(options, "seed", 0, 0, (int64_t(1) << 53) - 1, where + " options"));
    const int threads = static_cast<int>(IntegerOption(options, "threads", 1, 1, kMaxDecodeThreads, where + " options"));
    auto typed = [&](const char* key, napi_typedarray_type type) {
      Napi::Value value = options.Get(key);
      if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != type) {
        throw ClasswiseError(kInvalidArgument, where + " options." + key + " has the wrong type");
      }
      return value.As<Napi::TypedArray>();
    };
    Napi::Int32Array indices = typed("indices", napi_int32_array).As<Napi::Int32Array>();
    Napi::Float64Array offsets = typed("offsets", napi_float64_array).As<Napi::Float64Array>();
    Napi::Int32Array lengths = typed("lengths", napi_int32_array).As<Napi::Int32Array>();
    Napi::Int32Array widths = typed("widths", napi_int32_array).As<Napi::Int32Array>();
    Napi::Int32Array heights = typed("heights", napi_int32_array).As<Napi::Int32Array>();
    Napi::Uint8Array raw = typed("raw", napi_uint8_array).As<Napi::Uint8Array>();
    const size_t count = indices.ElementLength();
    if (offsets.ElementLength() != count || lengths.ElementLength() != count || widths.ElementLength() != count ||
        heights.ElementLength() != count || raw.ElementLength() != count) {
      throw ClasswiseError(kInvalidArgument, where + ": indices, offsets, lengths, widths, heights and raw must have one entry per image");
    }
    const size_t needed = count * static_cast<size_t>(size) * size * 3;
    if (out.ElementLength() < needed) {
      throw ClasswiseError(kShapeMismatch, where + ": out has " + std::to_string(out.ElementLength()) + " bytes, " +
                                               std::to_string(count) + " images need " + std::to_string(needed));
    }
    auto* worker = new PackedBatchWorker(env, info[0].As<Napi::String>().Utf8Value(), out, size, augment, seed, threads);
    worker->indices.assign(indices.Data(), indices.Data() + count);
    worker->offsets.assign(offsets.Data(), offsets.Data() + count);
    worker->lengths.assign(lengths.Data(), lengths.Data() + count);
    worker->widths.assign(widths.Data(), widths.Data() + count);
    worker->heights.assign(heights.Data(), heights.Data() + count);
    worker->raw.assign(raw.Data(), raw.Data() + count);
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  });
}

Napi::Value JpegDecoderInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("turbojpeg", JpegDecoderAvailable());
  return result;
}

}  // namespace classwise
