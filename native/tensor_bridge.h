// Crossing the boundary: JS option objects and typed arrays in, typed arrays out.
// Everything here runs on the JS thread and validates before any native work is queued.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <string>

#include "attacks.h"

namespace classwise {

double NumberOption(const Napi::Object& options, const char* key, double fallback, const std::string& where);
int64_t IntegerOption(const Napi::Object& options, const char* key, int64_t fallback, int64_t min, int64_t max,
                      const std::string& where);
bool BoolOption(const Napi::Object& options, const char* key, bool fallback, const std::string& where);
std::string StringOption(const Napi::Object& options, const char* key, const std::string& fallback,
                         const std::string& where);
Napi::Object ObjectArgument(const Napi::CallbackInfo& info, size_t index, const std::string& name);

// Copies a typed array of the expected kind into a new host tensor (one memcpy, no per-element work in JS).
torch::Tensor CopyUint8Array(const Napi::Value& value, const std::string& name);
torch::Tensor CopyFloat32Array(const Napi::Value& value, const std::string& name);
torch::Tensor CopyFloat64Array(const Napi::Value& value, const std::string& name);
// Int32Array -> int64 tensor, every value checked to lie in [0, limit).
torch::Tensor CopyIndexArray(const Napi::Value& value, const std::string& name, int64_t limit,
                             const std::string& limitMeaning);

// Float32Array / Float64Array / BigInt64Array / Int32Array holding a copy of a host tensor.
Napi::Value TensorToTypedArray(Napi::Env env, const torch::Tensor& tensor);

// { kind, norm: 'linf'|'l2', eps, ... }: the options of the kind (see the table in tensor_bridge.cc); any other
// option is refused with a message naming it.
AttackConfig ParseAttack(const Napi::Value& value, const std::string& where);

// attackDefaults(): the table of attack kinds, their options and defaults, and the standard AutoAttack's settings.
Napi::Value AttackDefaults(const Napi::CallbackInfo& info);

}  // namespace classwise
