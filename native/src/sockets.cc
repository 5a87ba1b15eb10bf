// Socket lifecycle: socket, socketpair, bind (and autobind), listen, accept, connect, shutdown,
// getsockname/getpeername, SO_PEERCRED, SO_ERROR and the SO_PASSCRED/SO_SNDBUF/SO_RCVBUF options. Sockets are created SOCK_NONBLOCK | SOCK_CLOEXEC, so nothing here ever blocks; a call
// that is not ready throws EAGAIN (accept) or EAGAIN/EINPROGRESS (connect).
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"

namespace uds {
namespace {

int SocketType(const Napi::CallbackInfo& info, size_t index) {
  Napi::Value v = info[index];
  std::string type = v.IsUndefined() ? "stream" : ArgString(info, index, "type");
  if (type == "stream") return SOCK_STREAM;
  if (type == "seqpacket") return SOCK_SEQPACKET;
  if (type == "dgram") return SOCK_DGRAM;
  throw Napi::TypeError::New(info.Env(), "type must be 'stream', 'seqpacket' or 'dgram'");
}

// socket(type): a non-blocking, close-on-exec AF_UNIX socket.
Napi::Value Socket(const Napi::CallbackInfo& info) {
  int fd = socket(AF_UNIX, SocketType(info, 0) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(info.Env(), "socket", errno);
  return Napi::Number::New(info.Env(), fd);
}

// socketpair(type, nonblock, cloexec) -> [fd0, fd1]
Napi::Value Socketpair(const Napi::CallbackInfo& info) {
  int flags = SocketType(info, 0);
  if (ArgBool(info, 1, true)) flags |= SOCK_NONBLOCK;
  if (ArgBool(info, 2, true)) flags |= SOCK_CLOEXEC;
  int sv[2];
  if (socketpair(AF_UNIX, flags, 0, sv) < 0) ThrowErrno(info.Env(), "socketpair", errno);
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), sv[0]));
  out.Set(1u, Napi::Number::New(info.Env(), sv[1]));
  return out;
}

// bind(fd, path): exact address length; a path over 107 bytes throws ENAMETOOLONG.
// bind(fd) with no path (undefined or null) autobinds: addrlen = sizeof(sa_family_t) (unix(7)).
Napi::Value Bind(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  if (info[1].IsUndefined() || info[1].IsNull()) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(sa_family_t)) < 0) ThrowErrno(info.Env(), "bind", errno);
    return info.Env().Undefined();
  }
  Bytes path = ArgBytes(info, 1, "path");
  sockaddr_un addr;
  socklen_t len = MakeAddress(info.Env(), "bind", path, &addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) < 0) {
    int err = errno;
    std::string shown(reinterpret_cast<const char*>(path.data), path.length);
    ThrowErrno(info.Env(), "bind", err, &shown);
  }
  return info.Env().Undefined();
}

Napi::Value Listen(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int backlog = static_cast<int>(ArgInt(info, 1, "backlog", 16));
  if (listen(fd, backlog) < 0) ThrowErrno(info.Env(), "listen", errno);
  return info.Env().Undefined();
}

// accept(fd): the accepted socket, non-blocking and close-on-exec. EAGAIN when nobody is waiting.
// A listening fd that is blocking (not made here) is probed with poll(0) first, so this never blocks.
Napi::Value Accept(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0 && !(fl & O_NONBLOCK)) {
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, 0);
    if (r == 0) ThrowErrno(info.Env(), "accept", EAGAIN);
  }
  int conn;
  do conn = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  while (conn < 0 && errno == EINTR);
  if (conn < 0) ThrowErrno(info.Env(), "accept", errno);
  return Napi::Number::New(info.Env(), conn);
}

// connect(fd, path): on a non-blocking AF_UNIX socket, EAGAIN means the listener's backlog is full.
Napi::Value Connect(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  Bytes path = ArgBytes(info, 1, "path");
  sockaddr_un addr;
  socklen_t len = MakeAddress(info.Env(), "connect", path, &addr);
  int rc;
  do rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), len);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    int err = errno;
    std::string shown(reinterpret_cast<const char*>(path.data), path.length);
    ThrowErrno(info.Env(), "connect", err, &shown);
  }
  return info.Env().Undefined();
}

// shutdown(fd, how): 0 = SHUT_RD, 1 = SHUT_WR, 2 = SHUT_RDWR (the wrapper maps the names).
Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int how = static_cast<int>(ArgInt(info, 1, "how", SHUT_RDWR));
  if (shutdown(fd, how) < 0) ThrowErrno(info.Env(), "shutdown", errno);
  return info.Env().Undefined();
}

Napi::Value GetPeerCred(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) ThrowErrno(info.Env(), "getsockopt", errno);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("pid", Napi::Number::New(info.Env(), cred.pid));
  // uid/gid are unsigned; (uid_t)-1 before listen (unix(7) SO_PEERCRED) is reported as -1.
  out.Set("uid", Napi::Number::New(info.Env(), cred.uid == static_cast<uid_t>(-1) ? -1.0 : cred.uid));
  out.Set("gid", Napi::Number::New(info.Env(), cred.gid == static_cast<gid_t>(-1) ? -1.0 : cred.gid));
  return out;
}

// SO_ERROR: the pending error of a socket (0 for none); reading it clears it.
Napi::Value GetSocketError(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) ThrowErrno(info.Env(), "getsockopt", errno);
  return Napi::Number::New(info.Env(), err);
}

// getsockname/getpeername -> { length, bytes }: length is the socklen_t the kernel returned, bytes
// sun_path's first (length - 2) bytes exactly as written (nothing trimmed: the length is part of an
// abstract name). The buffer is a sockaddr_storage, larger than sockaddr_un, so a kernel that reports
// a 108-byte path with its terminating NUL (length 111) is not cut short.
Napi::Value SockName(const Napi::CallbackInfo& info, bool peer) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) : getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (rc < 0) ThrowErrno(env, peer ? "getpeername" : "getsockname", errno);
  return AddressValue(env, &addr, len);
}

Napi::Value GetSockName(const Napi::CallbackInfo& info) { return SockName(info, false); }
Napi::Value GetPeerName(const Napi::CallbackInfo& info) { return SockName(info, true); }

// The SOL_SOCKET options the driver protocol names; anything else is a TypeError.
int OptionName(const Napi::CallbackInfo& info, size_t index) {
  std::string name = ArgString(info, index, "option");
  if (name == "SO_PASSCRED") return SO_PASSCRED;
  if (name == "SO_SNDBUF") return SO_SNDBUF;
  if (name == "SO_RCVBUF") return SO_RCVBUF;
  throw Napi::TypeError::New(info.Env(), "option must be 'SO_PASSCRED', 'SO_SNDBUF' or 'SO_RCVBUF'");
}

// setsockopt(fd, option, value): an int option at SOL_SOCKET, value passed as given (the kernel
// doubles SO_SNDBUF/SO_RCVBUF and clamps them to its minimum; getsockopt shows what it kept).
Napi::Value SetSockOpt(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int option = OptionName(info, 1);
  int64_t v = ArgInt(info, 2, "value", 0);
  if (v < INT32_MIN || v > INT32_MAX) throw Napi::RangeError::New(info.Env(), "value out of range");
  int value = static_cast<int>(v);
  if (setsockopt(fd, SOL_SOCKET, option, &value, sizeof value) < 0) ThrowErrno(info.Env(), "setsockopt", errno);
  return info.Env().Undefined();
}

Napi::Value GetSockOpt(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int option = OptionName(info, 1);
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, SOL_SOCKET, option, &value, &len) < 0) ThrowErrno(info.Env(), "getsockopt", errno);
  return Napi::Number::New(info.Env(), value);
}

}  // namespace

// { length, bytes } of a socket address the kernel wrote: bytes are sun_path's first (length - 2),
// at most what the buffer holds.
Napi::Value AddressValue(Napi::Env env, const sockaddr_storage* addr, socklen_t len) {
  size_t head = offsetof(sockaddr_un, sun_path);
  size_t room = sizeof *addr - head;
  size_t n = len > head ? static_cast<size_t>(len) - head : 0;
  if (n > room) n = room;
  Napi::Object out = Napi::Object::New(env);
  out.Set("length", Napi::Number::New(env, len));
  out.Set("bytes", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(addr) + head, n));
  return out;
}

void InitSockets(Napi::Env env, Napi::Object exports) {
  exports.Set("socket", Napi::Function::New(env, Socket, "socket"));
  exports.Set("socketpair", Napi::Function::New(env, Socketpair, "socketpair"));
  exports.Set("bind", Napi::Function::New(env, Bind, "bind"));
  exports.Set("listen", Napi::Function::New(env, Listen, "listen"));
  exports.Set("accept", Napi::Function::New(env, Accept, "accept"));
  exports.Set("connect", Napi::Function::New(env, Connect, "connect"));
  exports.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
  exports.Set("getPeerCred", Napi::Function::New(env, GetPeerCred, "getPeerCred"));
  exports.Set("getSocketError", Napi::Function::New(env, GetSocketError, "getSocketError"));
  exports.Set("getsockname", Napi::Function::New(env, GetSockName, "getsockname"));
  exports.Set("getpeername", Napi::Function::New(env, GetPeerName, "getpeername"));
  exports.Set("setsockopt", Napi::Function::New(env, SetSockOpt, "setsockopt"));
  exports.Set("getsockopt", Napi::Function::New(env, GetSockOpt, "getsockopt"));
}

}  // namespace uds
