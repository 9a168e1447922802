// AES-256-GCM decryption, for encrypted .sparq files (src/io/crypto/seal.ts):
//   aesGcmOpen(key: Uint8Array(32), items: [nonce(12), aad, data, tag(16), out?][]) -> number
// decrypts every item's `data` over itself, or into its `out` (as long as `data`; a mapped file's
// ciphertext goes straight to private memory in one pass), the items in parallel on sparq's thread
// pool, and returns the index of the first item whose tag does not verify (its plaintext and the others'
// are then garbage: the caller drops them all), or -1 when every one verified.
//
// Why here and not node:crypto: decipher.update returns a fresh buffer per call, so a 30 MB model costs
// a second copy (or chunked copies whose fresh pages fault in), one core, and loading node:crypto itself
// (~5 ms, more than the decryption); EVP_DecryptUpdate decrypts in place at several GB/s a core.
//
// The cipher is OpenSSL's as linked into the running Node: Node exports OpenSSL's symbols for addons.
// They are looked up at load (dlsym / GetProcAddress), never linked, so a runtime without them (a Node
// built without OpenSSL, Electron's BoringSSL) still loads the addon: it just has no aesGcmOpen, and
// the TypeScript side decrypts with node:crypto instead. The prototypes below are OpenSSL's public,
// stable EVP API (1.1 and 3.x); the contexts are opaque.
#include <napi.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(_WIN32)
#include <windows.h>
#else
#include <dlfcn.h>
#endif

#include "binding.h"
#include "sparq/threadpool.h"

namespace sparq_binding {
namespace {

struct OpenSsl {
  void* (*ctx_new)();
  void (*ctx_free)(void*);
  const void* (*aes_256_gcm)();
  int (*decrypt_init)(void* ctx, const void* cipher, void* engine, const unsigned char* key, const unsigned char* iv);
  int (*ctx_ctrl)(void* ctx, int type, int arg, void* ptr);
  int (*decrypt_update)(void* ctx, unsigned char* out, int* outl, const unsigned char* in, int inl);
  int (*decrypt_final)(void* ctx, unsigned char* out, int* outl);
};

constexpr int kCtrlGcmSetTag = 0x11;  // EVP_CTRL_GCM_SET_TAG (= EVP_CTRL_AEAD_SET_TAG)
constexpr size_t kKeyBytes = 32, kNonceBytes = 12, kTagBytes = 16;

void* host_symbol(const char* name) {
#if defined(_WIN32)
  return reinterpret_cast<void*>(GetProcAddress(GetModuleHandleW(nullptr), name));
#else
  return dlsym(RTLD_DEFAULT, name);
#endif
}

template <typename F>
bool bind(F& f, const char* name) {
  void* p = host_symbol(name);
  if (p) std::memcpy(&f, &p, sizeof p);  // object pointer to function pointer (POSIX guarantees the sizes match)
  return p != nullptr;
}

// OpenSSL's EVP functions from the host process, or null where it exports none.
const OpenSsl* openssl() {
  static const OpenSsl* resolved = [] () -> const OpenSsl* {
    static OpenSsl s{};
    const bool ok = bind(s.ctx_new, "EVP_CIPHER_CTX_new") && bind(s.ctx_free, "EVP_CIPHER_CTX_free") && bind(s.aes_256_gcm, "EVP_aes_256_gcm") &&
                    bind(s.decrypt_init, "EVP_DecryptInit_ex") && bind(s.ctx_ctrl, "EVP_CIPHER_CTX_ctrl") && bind(s.decrypt_update, "EVP_DecryptUpdate") &&
                    bind(s.decrypt_final, "EVP_DecryptFinal_ex");
    return ok ? &s : nullptr;
  }();
  return resolved;
}

struct Item {
  std::array<unsigned char, kNonceBytes> nonce;
  std::array<unsigned char, kTagBytes> tag;
  std::vector<unsigned char> aad;
  const unsigned char* data;
  unsigned char* out;  // == data: in place
  size_t length;
};

// Decrypts one item (into out, which may be data); false when its tag does not verify (or OpenSSL fails).
bool open_item(const OpenSsl& ssl, const unsigned char* key, Item& item) {
  void* ctx = ssl.ctx_new();
  if (!ctx) return false;
  int n = 0;
  bool ok = ssl.decrypt_init(ctx, ssl.aes_256_gcm(), nullptr, key, item.nonce.data()) == 1 &&
            ssl.ctx_ctrl(ctx, kCtrlGcmSetTag, static_cast<int>(kTagBytes), item.tag.data()) == 1;
  for (size_t at = 0; ok && at < item.aad.size(); at += INT_MAX / 2) {
    const int len = static_cast<int>(std::min<size_t>(item.aad.size() - at, INT_MAX / 2));
    ok = ssl.decrypt_update(ctx, nullptr, &n, item.aad.data() + at, len) == 1;
  }
  // EVP allows out == in. Chunks keep each length within an int.
  for (size_t at = 0; ok && at < item.length; at += INT_MAX / 2) {
    const int len = static_cast<int>(std::min<size_t>(item.length - at, INT_MAX / 2));
    ok = ssl.decrypt_update(ctx, item.out + at, &n, item.data + at, len) == 1 && n == len;
  }
  unsigned char last[16];
  ok = ok && ssl.decrypt_final(ctx, last, &n) == 1 && n == 0;
  ssl.ctx_free(ctx);
  return ok;
}

Napi::Uint8Array bytes_arg(Napi::Env env, const Napi::Value& v, const std::string& name, size_t exact) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw_type_error(env, "Expected a Uint8Array for " + name + " but received " + describe(v));
  Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  if (exact && a.ByteLength() != exact)
    throw_range_error(env, "Expected a Uint8Array of " + std::to_string(exact) + " bytes for " + name + " but received one of " + std::to_string(a.ByteLength()));
  return a;
}

Napi::Value AesGcmOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const OpenSsl* ssl = openssl();
  if (!ssl) throw make_error(env, "ERR_UNSUPPORTED", "This Node exports no OpenSSL to decrypt with");
  Napi::Uint8Array keyArg = bytes_arg(env, info[0], "key", kKeyBytes);
  struct Key {
    std::array<unsigned char, kKeyBytes> bytes;
    ~Key() {
      volatile unsigned char* p = bytes.data();
      for (size_t i = 0; i < kKeyBytes; ++i) p[i] = 0;
    }
  } key;
  std::memcpy(key.bytes.data(), keyArg.Data(), kKeyBytes);
  if (info.Length() < 2 || !info[1].IsArray()) throw_type_error(env, "Expected an array of [nonce, aad, data, tag] for items but received " + describe(info[1]));
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<Item> items(list.Length());
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const std::string name = "items[" + std::to_string(i) + "]";
    Napi::Value v = list.Get(i);
    const uint32_t parts_count = v.IsArray() ? v.As<Napi::Array>().Length() : 0;
    if (parts_count != 4 && parts_count != 5) throw_type_error(env, "Expected [nonce, aad, data, tag] or [nonce, aad, data, tag, out] for " + name + " but received " + describe(v));
    Napi::Array parts = v.As<Napi::Array>();
    Napi::Uint8Array nonce = bytes_arg(env, parts.Get(0u), name + "[0] (nonce)", kNonceBytes);
    Napi::Uint8Array aad = bytes_arg(env, parts.Get(1u), name + "[1] (aad)", 0);
    Napi::Uint8Array data = bytes_arg(env, parts.Get(2u), name + "[2] (data)", 0);
    Napi::Uint8Array tag = bytes_arg(env, parts.Get(3u), name + "[3] (tag)", kTagBytes);
    // Everything but the data is copied before any thread writes: only the data regions are shared.
    Item& it = items[i];
    std::memcpy(it.nonce.data(), nonce.Data(), kNonceBytes);
    std::memcpy(it.tag.data(), tag.Data(), kTagBytes);
    it.aad.assign(aad.Data(), aad.Data() + aad.ByteLength());
    it.data = data.Data();
    it.out = data.Data();
    it.length = data.ByteLength();
    if (parts_count == 5) {
      Napi::Uint8Array out = bytes_arg(env, parts.Get(4u), name + "[4] (out)", 0);
      if (out.ByteLength() != it.length)
        throw_range_error(env, "Expected " + name + "[4] (out) of " + std::to_string(it.length) + " bytes (as data) but received " + std::to_string(out.ByteLength()));
      it.out = out.Data();
    }
  }
  // The outputs are written concurrently: none may overlap another output or any item's data, unless
  // it is its own item's data exactly (in place: then it is one region).
  struct Region {
    const unsigned char* begin;
    size_t length;
    size_t item;
    bool written;
  };
  std::vector<Region> regions;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].length) continue;
    regions.push_back({items[i].out, items[i].length, i, true});
    if (items[i].out != items[i].data) regions.push_back({items[i].data, items[i].length, i, false});
  }
  std::sort(regions.begin(), regions.end(), [](const Region& a, const Region& b) { return a.begin < b.begin; });
  for (size_t k = 0; k < regions.size(); ++k)
    for (size_t j = k + 1; j < regions.size() && regions[j].begin < regions[k].begin + regions[k].length; ++j)
      if (regions[k].written || regions[j].written)
        throw_range_error(env, "Expected items whose data and outputs do not overlap but received items " + std::to_string(regions[k].item) + " and " +
                                   std::to_string(regions[j].item) + " overlapping");
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  // Largest first, so the last item a thread takes is a small one.
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return items[a].length > items[b].length; });
  std::vector<char> ok(items.size(), 0);
  rethrow_native(env, [&] {
    sparq::ThreadPool::global().parallel_for(static_cast<int64_t>(order.size()), 0, 1, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) ok[order[k]] = open_item(*ssl, key.bytes.data(), items[order[k]]) ? 1 : 0;
    });
  });
  for (size_t i = 0; i < items.size(); ++i)
    if (!ok[i]) return Napi::Number::New(env, static_cast<double>(i));
  return Napi::Number::New(env, -1);
}

void Init(Napi::Env env, Napi::Object exports) {
  if (openssl()) exports.Set("aesGcmOpen", Napi::Function::New(env, AesGcmOpen, "aesGcmOpen"));
}

}  // namespace

SPARQ_BINDING_MODULE(gcm, Init);

}  // namespace sparq_binding
