// sendmsg with SCM_RIGHTS, SCM_CREDENTIALS and a destination (sendto), and recvmsg with an exactly
// sized control buffer, every control message and the sender's address. Both always pass
// MSG_DONTWAIT, so they never block even on a blocking fd: not ready means EAGAIN.
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <vector>

#include "common.h"

namespace uds {
namespace {

// A control buffer aligned for struct cmsghdr.
std::vector<cmsghdr> ControlBuffer(size_t bytes) {
  return std::vector<cmsghdr>((bytes + sizeof(cmsghdr) - 1) / sizeof(cmsghdr) + 1);
}

// The uid_t/gid_t of a JS number: -1 stands for (uid_t)-1, as getPeerCred reports it.
uint32_t IdArg(Napi::Env env, Napi::Object creds, const char* key) {
  Napi::Value v = creds.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string("credentials.") + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= -1 && d <= 4294967295.0) || std::trunc(d) != d)
    throw Napi::TypeError::New(env, std::string("credentials.") + key + " must be an integer in [-1, 2^32)");
  return d < 0 ? static_cast<uint32_t>(-1) : static_cast<uint32_t>(d);
}

// sendmsg(fd, data, fds, flags, to, credentials) -> bytes sent.
// - fds: all in one SCM_RIGHTS message; none means no SCM_RIGHTS at all. Any count reaches the
//   kernel, which refuses more than SCM_MAX_FD (253) with EINVAL.
// - to (optional, a path or a NUL-led abstract name, exact length as bind's): msg_name, i.e. sendto.
// - credentials (optional, {pid, uid, gid}): an SCM_CREDENTIALS message with that struct ucred,
//   placed FIRST in msg_control (before SCM_RIGHTS). The kernel checks it (EPERM for another pid).
// MSG_NOSIGNAL and MSG_DONTWAIT are always added.
Napi::Value Sendmsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  Bytes data = ArgBytes(info, 1, "data");
  std::vector<int> fds;
  Napi::Value list = info[2];
  if (!list.IsUndefined() && !list.IsNull()) {
    if (!list.IsArray()) throw Napi::TypeError::New(env, "fds must be an array of numbers");
    Napi::Array arr = list.As<Napi::Array>();
    fds.reserve(arr.Length());
    for (uint32_t i = 0; i < arr.Length(); i++) {
      Napi::Value v = arr.Get(i);
      if (!v.IsNumber()) throw Napi::TypeError::New(env, "fds must be an array of numbers");
      double d = v.As<Napi::Number>().DoubleValue();
      if (!(d >= INT32_MIN && d <= INT32_MAX) || std::trunc(d) != d) throw Napi::TypeError::New(env, "fds must be integers");
      fds.push_back(static_cast<int>(d));
    }
  }
  int flags = static_cast<int>(ArgInt(info, 3, "flags", 0)) | MSG_NOSIGNAL | MSG_DONTWAIT;
  sockaddr_un to;
  socklen_t to_len = 0;
  if (!info[4].IsUndefined() && !info[4].IsNull()) to_len = MakeAddress(env, "sendmsg", ArgBytes(info, 4, "to"), &to);
  bool with_creds = !info[5].IsUndefined() && !info[5].IsNull();
  ucred cred{};
  if (with_creds) {
    if (!info[5].IsObject()) throw Napi::TypeError::New(env, "credentials must be an object {pid, uid, gid}");
    Napi::Object c = info[5].As<Napi::Object>();
    Napi::Value pid = c.Get("pid");
    if (!pid.IsNumber()) throw Napi::TypeError::New(env, "credentials.pid must be a number");
    double p = pid.As<Napi::Number>().DoubleValue();
    if (!(p >= INT32_MIN && p <= INT32_MAX) || std::trunc(p) != p) throw Napi::TypeError::New(env, "credentials.pid must be an integer");
    cred.pid = static_cast<pid_t>(p);
    cred.uid = IdArg(env, c, "uid");
    cred.gid = IdArg(env, c, "gid");
  }

  iovec iov{const_cast<uint8_t*>(data.data), data.length};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (to_len > 0) {
    msg.msg_name = &to;
    msg.msg_namelen = to_len;
  }
  size_t payload = fds.size() * sizeof(int);
  size_t ctl_len = (with_creds ? CMSG_SPACE(sizeof cred) : 0) + (fds.empty() ? 0 : CMSG_SPACE(payload));
  std::vector<cmsghdr> control;
  if (ctl_len > 0) {
    control = ControlBuffer(ctl_len);
    std::memset(control.data(), 0, control.size() * sizeof(cmsghdr));
    msg.msg_control = control.data();
    msg.msg_controllen = ctl_len;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    if (with_creds) {
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_CREDENTIALS;
      c->cmsg_len = CMSG_LEN(sizeof cred);
      std::memcpy(CMSG_DATA(c), &cred, sizeof cred);
      c = CMSG_NXTHDR(&msg, c);
    }
    if (!fds.empty()) {
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(payload);
      std::memcpy(CMSG_DATA(c), fds.data(), payload);
    }
  }
  ssize_t n;
  do n = sendmsg(fd, &msg, flags);
  while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(env, "sendmsg", errno);
  return Napi::Number::New(env, static_cast<double>(n));
}

// uid_t/gid_t as a JS number: (uid_t)-1 as -1, as getPeerCred reports it.
double IdValue(uint32_t id) { return id == static_cast<uint32_t>(-1) ? -1.0 : id; }

// One control message as the driver protocol names it:
// {type: 'SCM_RIGHTS', fds}, {type: 'SCM_CREDENTIALS', pid, uid, gid} or
// {type: 'other', level, cmsgType, bytes}. `data`/`len` are the bytes present (a truncated message,
// MSG_CTRUNC, holds less than its cmsg_len claims); a too-short SCM_CREDENTIALS is 'other'.
Napi::Object ControlValue(Napi::Env env, const cmsghdr* c, const uint8_t* data, size_t len, Napi::Array all_fds, uint32_t* count) {
  Napi::Object out = Napi::Object::New(env);
  if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
    Napi::Array fds = Napi::Array::New(env);
    for (size_t i = 0; i < len / sizeof(int); i++) {
      int received;
      std::memcpy(&received, data + i * sizeof(int), sizeof(int));
      fds.Set(static_cast<uint32_t>(i), Napi::Number::New(env, received));
      all_fds.Set((*count)++, Napi::Number::New(env, received));
    }
    out.Set("type", Napi::String::New(env, "SCM_RIGHTS"));
    out.Set("fds", fds);
  } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS && len >= sizeof(ucred)) {
    ucred cred;
    std::memcpy(&cred, data, sizeof cred);
    out.Set("type", Napi::String::New(env, "SCM_CREDENTIALS"));
    out.Set("pid", Napi::Number::New(env, cred.pid));
    out.Set("uid", Napi::Number::New(env, IdValue(cred.uid)));
    out.Set("gid", Napi::Number::New(env, IdValue(cred.gid)));
  } else {
    out.Set("type", Napi::String::New(env, "other"));
    out.Set("level", Napi::Number::New(env, c->cmsg_level));
    out.Set("cmsgType", Napi::Number::New(env, c->cmsg_type));
    out.Set("bytes", Napi::Buffer<uint8_t>::Copy(env, data, len));
  }
  return out;
}

// recvmsg(fd, dataSize, controlFds, flags, credentials) -> { data, length, fds, control, from, msgFlags }.
// The control buffer is exactly (credentials ? CMSG_SPACE(sizeof(struct ucred)) : 0) +
// (controlFds > 0 ? CMSG_LEN(controlFds * sizeof(int)) : 0) bytes: CMSG_LEN, not CMSG_SPACE, for the
// fds, whose padding would let Linux deliver one more fd; 0 bytes means no control buffer at all.
// `control` is every control message in the order the kernel wrote them (with SO_PASSCRED,
// SCM_CREDENTIALS comes before SCM_RIGHTS); `fds` flattens every SCM_RIGHTS message, in order.
// `from` is msg_name: the sender's address, or null when the kernel wrote none (msg_namelen 0).
Napi::Value Recvmsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  int64_t size = ArgInt(info, 1, "dataSize", 65536);
  int64_t want = ArgInt(info, 2, "controlFds", 253);
  if (size < 0 || size > (int64_t{1} << 31)) throw Napi::RangeError::New(env, "dataSize out of range");
  if (want < 0 || want > (int64_t{1} << 20)) throw Napi::RangeError::New(env, "controlFds out of range");
  int flags = static_cast<int>(ArgInt(info, 3, "flags", 0)) | MSG_DONTWAIT;
  bool creds = ArgBool(info, 4, false);

  std::vector<uint8_t> buf(static_cast<size_t>(size) + 1);  // +1: never a null base pointer
  size_t ctl_len = (creds ? CMSG_SPACE(sizeof(ucred)) : 0) + (want > 0 ? CMSG_LEN(static_cast<size_t>(want) * sizeof(int)) : 0);
  std::vector<cmsghdr> control = ControlBuffer(ctl_len);
  sockaddr_storage from{};
  iovec iov{buf.data(), static_cast<size_t>(size)};
  msghdr msg{};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl_len > 0 ? control.data() : nullptr;
  msg.msg_controllen = ctl_len;
  ssize_t n;
  do n = recvmsg(fd, &msg, flags);
  while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(env, "recvmsg", errno);

  Napi::Array fds = Napi::Array::New(env);
  Napi::Array messages = Napi::Array::New(env);
  uint32_t count = 0, index = 0;
  // Walked by hand rather than with CMSG_NXTHDR, which stops before a last message whose padding
  // does not fit (an SCM_RIGHTS in a CMSG_LEN-sized buffer): every header that fits is read.
  if (msg.msg_control != nullptr) {
    const uint8_t* base = reinterpret_cast<const uint8_t*>(msg.msg_control);
    size_t total = msg.msg_controllen;
    for (size_t pos = 0; pos + sizeof(cmsghdr) <= total;) {
      const cmsghdr* c = reinterpret_cast<const cmsghdr*>(base + pos);
      if (c->cmsg_len < CMSG_LEN(0)) break;
      size_t end = c->cmsg_len < total - pos ? c->cmsg_len : total - pos;
      messages.Set(index++, ControlValue(env, c, base + pos + CMSG_LEN(0), end - CMSG_LEN(0), fds, &count));
      pos += CMSG_ALIGN(c->cmsg_len);
    }
  }
  Napi::Object out = Napi::Object::New(env);
  // With MSG_TRUNC as an input flag a packet socket returns the full length, which may exceed the
  // buffer: data holds what was copied, length what recvmsg returned.
  size_t copied = static_cast<size_t>(n) < static_cast<size_t>(size) ? static_cast<size_t>(n) : static_cast<size_t>(size);
  out.Set("data", Napi::Buffer<uint8_t>::Copy(env, buf.data(), copied));
  out.Set("length", Napi::Number::New(env, static_cast<double>(n)));
  out.Set("fds", fds);
  out.Set("control", messages);
  out.Set("from", msg.msg_namelen > 0 ? AddressValue(env, &from, msg.msg_namelen) : env.Null());
  out.Set("msgFlags", Napi::Number::New(env, msg.msg_flags));
  return out;
}

}  // namespace

void InitMessages(Napi::Env env, Napi::Object exports) {
  exports.Set("sendmsg", Napi::Function::New(env, Sendmsg, "sendmsg"));
  exports.Set("recvmsg", Napi::Function::New(env, Recvmsg, "recvmsg"));
  Napi::Object msg = Napi::Object::New(env);
  msg.Set("MSG_OOB", Napi::Number::New(env, MSG_OOB));
  msg.Set("MSG_PEEK", Napi::Number::New(env, MSG_PEEK));
  msg.Set("MSG_TRUNC", Napi::Number::New(env, MSG_TRUNC));
  msg.Set("MSG_CTRUNC", Napi::Number::New(env, MSG_CTRUNC));
  msg.Set("MSG_EOR", Napi::Number::New(env, MSG_EOR));
  msg.Set("MSG_WAITALL", Napi::Number::New(env, MSG_WAITALL));
  msg.Set("MSG_DONTWAIT", Napi::Number::New(env, MSG_DONTWAIT));
  msg.Set("MSG_NOSIGNAL", Napi::Number::New(env, MSG_NOSIGNAL));
  msg.Set("MSG_MORE", Napi::Number::New(env, MSG_MORE));
  msg.Set("MSG_ERRQUEUE", Napi::Number::New(env, MSG_ERRQUEUE));
  msg.Set("MSG_CMSG_CLOEXEC", Napi::Number::New(env, MSG_CMSG_CLOEXEC));
  exports.Set("MSG", msg);
}

}  // namespace uds
