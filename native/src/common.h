// Shared declarations of the uds_native addon: errno errors, argument helpers and the per-file
// registration functions. Every function here is synchronous and never blocks: sockets the addon
// creates are non-blocking, and the only waiting happens through libuv polling (poll.cc).
#ifndef UDS_NATIVE_COMMON_H
#define UDS_NATIVE_COMMON_H

#include <napi.h>

#include <string>
#include <sys/socket.h>
#include <sys/un.h>

namespace uds {

// The C library's names: "EBADF" for EBADF (strerrorname_np), "E<number>" when it has none.
std::string ErrnoName(int err);

// A Node-style system error: message "<syscall>: <strerror>", with code (errno name), errno (the
// positive errno value, as in os.constants.errno) and syscall; path when one is given.
Napi::Error ErrnoError(Napi::Env env, const char* syscall, int err, const std::string* path = nullptr);

// Throws ErrnoError as a C++ exception (the addon is built with NAPI_CPP_EXCEPTIONS).
[[noreturn]] void ThrowErrno(Napi::Env env, const char* syscall, int err, const std::string* path = nullptr);

// Argument helpers: each throws a TypeError naming the argument when it has the wrong type.
int ArgFd(const Napi::CallbackInfo& info, size_t index);
int64_t ArgInt(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t fallback);
bool ArgBool(const Napi::CallbackInfo& info, size_t index, bool fallback);
std::string ArgString(const Napi::CallbackInfo& info, size_t index, const char* name);

// Bytes of a string (UTF-8) or any ArrayBufferView, for paths and data.
struct Bytes {
  const uint8_t* data;
  size_t length;
  std::string storage;  // owns the bytes when the argument was a string
};
Bytes ArgBytes(const Napi::CallbackInfo& info, size_t index, const char* name);

// Fills addr for a socket address and returns its exact length. A pathname (first byte not NUL)
// must not hold a NUL and may have at most 107 bytes: longer throws ENAMETOOLONG, never truncated;
// the length is offsetof(sun_path) + len + 1. A name starting with NUL is abstract: up to 108
// bytes, length offsetof(sun_path) + len. An empty name throws ENOENT.
socklen_t MakeAddress(Napi::Env env, const char* syscall, const Bytes& path, sockaddr_un* addr);

// { length, bytes } of an address the kernel wrote (getsockname, getpeername, recvmsg's msg_name):
// length the socklen_t it returned, bytes sun_path's first (length - 2), never trimmed.
Napi::Value AddressValue(Napi::Env env, const sockaddr_storage* addr, socklen_t len);

// Cancels every pending wait on fd (their promises reject with ECANCELED) and releases its poll
// handle; close() calls it before close(2), because libuv must stop polling an fd before it closes.
void CancelWaits(Napi::Env env, int fd);

// Registration, one per source file.
void InitErrors(Napi::Env env, Napi::Object exports);
void InitSockets(Napi::Env env, Napi::Object exports);
void InitMessages(Napi::Env env, Napi::Object exports);
void InitFiles(Napi::Env env, Napi::Object exports);
void InitPoll(Napi::Env env, Napi::Object exports);
void InitDiag(Napi::Env env, Napi::Object exports);

}  // namespace uds

#endif
