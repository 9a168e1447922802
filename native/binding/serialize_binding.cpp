// Packed weights to bytes and back (sparq/packed_serialize.h): what .sparq files store so a session
// starts without re-packing.
//   serializePacked(handle) -> Uint8Array | null (null: the format has no serialiser)
//   unpackWeights(format, bytes: Uint8Array, K, N) -> PackedHandle
//   crc32(bytes: Uint8Array) -> number (the .sparq sections' checksum)
//   readFile(path) -> Uint8Array over a native, 64-byte-aligned private copy of the file (sparq/read_file.h),
//                     freed when the array is collected
//   mapFile(path) -> Uint8Array over a private mapping of the file (sparq/read_file.h: no view may outlive
//                    the use), unmapped when the array is collected
#include <napi.h>

#include <cstring>
#include <memory>
#include <vector>

#include "binding.h"
#include "packed_handle.h"
#include "sparq/aligned.h"
#include "sparq/crc32.h"
#include "sparq/packed_serialize.h"
#include "sparq/read_file.h"

namespace sparq_binding {
namespace {

Napi::Value SerializePacked(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<sparq::PackedWeights> w = PackedHandle::WeightsOf(info, 0, "w");
  std::vector<uint8_t> bytes;
  bool ok = false;
  rethrow_native(env, [&] { ok = w->serialize(bytes); });
  if (!ok) return env.Null();
  Napi::Uint8Array out = Napi::Uint8Array::New(env, bytes.size());
  if (!bytes.empty()) std::memcpy(out.Data(), bytes.data(), bytes.size());
  return out;
}

Napi::Value UnpackWeights(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string format = arg_string(info, 0, "format");
  if (info.Length() < 2 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw_type_error(env, "Expected a Uint8Array for bytes but received " + describe(info[1]));
  Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
  int64_t K = arg_integer(info, 2, "K", 1, (int64_t(1) << 31) - 1);
  int64_t N = arg_integer(info, 3, "N", 1, (int64_t(1) << 31) - 1);
  std::shared_ptr<sparq::PackedWeights> packed;
  const sparq::LoadTimeAllocations filled_first;  // see sparq/aligned.h
  rethrow_native(env, [&] { packed = sparq::unpack_weights(format, bytes.Data(), bytes.ByteLength(), K, N); });
  return PackedHandle::Wrap(env, std::move(packed));
}

// crc32(bytes: Uint8Array) -> number: zlib's CRC-32, folded with carry-less multiplies.
Napi::Value Crc32(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw_type_error(env, "Expected a Uint8Array for bytes but received " + describe(info[0]));
  Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  return Napi::Number::New(env, sparq::crc32(0, bytes.Data(), bytes.ByteLength()));
}

// readFile(path): the whole file in one aligned block the GC accounts for; sections of a .sparq
// (64-byte aligned in the file) are then 64-byte aligned in memory too. The view spans the file; its
// buffer, the whole block (capacity()), so that a session that read the file can give every page of it
// back at release() (discardPages on the buffer), its last one too.
Napi::Value ReadFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = arg_string(info, 0, "path");
  std::unique_ptr<sparq::FileBytes> file;
  rethrow_native(env, [&] { file = std::make_unique<sparq::FileBytes>(path); });
  const size_t size = file->size();
  uint8_t* data = file->data();
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, data, file->capacity(), [](Napi::Env e, void*, sparq::FileBytes* f) {
    Napi::MemoryManagement::AdjustExternalMemory(e, -static_cast<int64_t>(f->size()));
    delete f;
  }, file.get());
  file.release();
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(size));
  return Napi::Uint8Array::New(env, size, buffer, 0);
}

Napi::Value MapFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = arg_string(info, 0, "path");
  std::unique_ptr<sparq::FileMapping> file;
  rethrow_native(env, [&] { file = std::make_unique<sparq::FileMapping>(path); });
  if (file->size() == 0) return Napi::Uint8Array::New(env, 0);
  const size_t size = file->size();
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, file->data(), size, [](Napi::Env, void*, sparq::FileMapping* f) { delete f; }, file.get());
  file.release();
  return Napi::Uint8Array::New(env, size, buffer, 0);
}

void Init(Napi::Env env, Napi::Object exports) {
  exports.Set("mapFile", Napi::Function::New(env, MapFile, "mapFile"));
  exports.Set("readFile", Napi::Function::New(env, ReadFile, "readFile"));
  exports.Set("crc32", Napi::Function::New(env, Crc32, "crc32"));
  exports.Set("serializePacked", Napi::Function::New(env, SerializePacked, "serializePacked"));
  exports.Set("unpackWeights", Napi::Function::New(env, UnpackWeights, "unpackWeights"));
}

}  // namespace

SPARQ_BINDING_MODULE(serialize, Init);

}  // namespace sparq_binding
