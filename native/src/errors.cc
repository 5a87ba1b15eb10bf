// errno errors and argument helpers shared by every part of the addon.
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "common.h"

namespace uds {

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? std::string(name) : "E" + std::to_string(err);
}

Napi::Error ErrnoError(Napi::Env env, const char* syscall, int err, const std::string* path) {
  std::string message = std::string(syscall) + ": " + strerror(err);
  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object obj = error.Value();
  obj.Set("code", Napi::String::New(env, ErrnoName(err)));
  obj.Set("errno", Napi::Number::New(env, err));
  obj.Set("syscall", Napi::String::New(env, syscall));
  if (path != nullptr) obj.Set("path", Napi::String::New(env, *path));
  return error;
}

void ThrowErrno(Napi::Env env, const char* syscall, int err, const std::string* path) {
  throw ErrnoError(env, syscall, err, path);
}

int ArgFd(const Napi::CallbackInfo& info, size_t index) {
  Napi::Value v = info[index];
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), "fd must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= INT32_MIN && d <= INT32_MAX) || std::trunc(d) != d) throw Napi::TypeError::New(info.Env(), "fd must be an integer");
  return static_cast<int>(d);  // negative fds reach the kernel, which answers EBADF
}

int64_t ArgInt(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t fallback) {
  Napi::Value v = info[index];
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  // 2^53: beyond it a double no longer holds every integer (and the cast could overflow).
  if (!(std::fabs(d) <= 9007199254740992.0) || std::trunc(d) != d)
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be an integer");
  return static_cast<int64_t>(d);
}

bool ArgBool(const Napi::CallbackInfo& info, size_t index, bool fallback) {
  Napi::Value v = info[index];
  if (v.IsUndefined() || v.IsNull()) return fallback;
  return v.ToBoolean().Value();
}

std::string ArgString(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value v = info[index];
  if (!v.IsString()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

Bytes ArgBytes(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value v = info[index];
  Bytes b{nullptr, 0, {}};
  if (v.IsString()) {
    b.storage = v.As<Napi::String>().Utf8Value();
    b.data = reinterpret_cast<const uint8_t*>(b.storage.data());
    b.length = b.storage.size();
  } else if (v.IsTypedArray()) {
    Napi::TypedArray t = v.As<Napi::TypedArray>();
    b.data = static_cast<const uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
    b.length = t.ByteLength();
  } else if (v.IsDataView()) {
    Napi::DataView d = v.As<Napi::DataView>();
    b.data = static_cast<const uint8_t*>(d.ArrayBuffer().Data()) + d.ByteOffset();
    b.length = d.ByteLength();
  } else if (v.IsArrayBuffer()) {
    Napi::ArrayBuffer a = v.As<Napi::ArrayBuffer>();
    b.data = static_cast<const uint8_t*>(a.Data());
    b.length = a.ByteLength();
  } else {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string or a Uint8Array");
  }
  return b;
}

socklen_t MakeAddress(Napi::Env env, const char* syscall, const Bytes& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  std::string shown(reinterpret_cast<const char*>(path.data), path.length);
  if (path.length == 0) ThrowErrno(env, syscall, ENOENT, &shown);
  bool abstract = path.data[0] == 0;
  if (!abstract && std::memchr(path.data, 0, path.length) != nullptr) ThrowErrno(env, syscall, EINVAL, &shown);
  // A pathname needs room for its NUL: at most 107 bytes; an abstract name may fill all 108.
  size_t room = abstract ? sizeof addr->sun_path : sizeof addr->sun_path - 1;
  if (path.length > room) ThrowErrno(env, syscall, ENAMETOOLONG, &shown);
  std::memcpy(addr->sun_path, path.data, path.length);
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.length + (abstract ? 0 : 1));
}

namespace {

Napi::Value Strerror(const Napi::CallbackInfo& info) {
  int err = static_cast<int>(ArgInt(info, 0, "errno", 0));
  return Napi::String::New(info.Env(), strerror(err < 0 ? -err : err));
}

Napi::Value ErrnoNameJs(const Napi::CallbackInfo& info) {
  int err = static_cast<int>(ArgInt(info, 0, "errno", 0));
  return Napi::String::New(info.Env(), ErrnoName(err < 0 ? -err : err));
}

}  // namespace

void InitErrors(Napi::Env env, Napi::Object exports) {
  exports.Set("strerror", Napi::Function::New(env, Strerror, "strerror"));
  exports.Set("errnoName", Napi::Function::New(env, ErrnoNameJs, "errnoName"));
}

}  // namespace uds
