// decodeImageBatch(): image files to a uint8 NCHW batch on a pool of native decoding threads (jpeg_decoder.h), off
// the event loop and off the LibTorch compute thread, so decoding the next batches overlaps the training step.
// decodePackedBatch(): the same from the memory-mapped entries of a packed dataset (src/data/pack.ts).
// jpegDecoderInfo(): whether this build has libjpeg-turbo.
#pragma once

#include <napi.h>

namespace classwise {

Napi::Value DecodeImageBatch(const Napi::CallbackInfo& info);
Napi::Value DecodePackedBatch(const Napi::CallbackInfo& info);
Napi::Value JpegDecoderInfo(const Napi::CallbackInfo& info);

}  // namespace classwise
