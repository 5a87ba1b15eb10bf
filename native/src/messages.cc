// sendmsg with SCM_RIGHTS and recvmsg with an exactly sized control buffer. Both always pass
// MSG_DONTWAIT, so they never block even on a blocking fd: not ready means EAGAIN.
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sys/socket.h>
#include <vector>

#include "common.h"

namespace uds {
namespace {

// A control buffer aligned for struct cmsghdr.
std::vector<cmsghdr> ControlBuffer(size_t bytes) {
  return std::vector<cmsghdr>((bytes + sizeof(cmsghdr) - 1) / sizeof(cmsghdr) + 1);
}

// sendmsg(fd, data, fds, flags) -> bytes sent. All fds travel in one SCM_RIGHTS message; no fds
// means no control message at all. Any count reaches the kernel, which refuses more than
// SCM_MAX_FD (253) with EINVAL. MSG_NOSIGNAL and MSG_DONTWAIT are always added.
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

  iovec iov{const_cast<uint8_t*>(data.data), data.length};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<cmsghdr> control;
  if (!fds.empty()) {
    size_t payload = fds.size() * sizeof(int);
    control = ControlBuffer(CMSG_SPACE(payload));
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(payload);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(payload);
    std::memcpy(CMSG_DATA(c), fds.data(), payload);
  }
  ssize_t n;
  do n = sendmsg(fd, &msg, flags);
  while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(env, "sendmsg", errno);
  return Napi::Number::New(env, static_cast<double>(n));
}

// recvmsg(fd, dataSize, controlFds, flags) -> { data, length, fds, msgFlags }.
// The control buffer is exactly CMSG_LEN(controlFds * sizeof(int)) bytes (not CMSG_SPACE, whose
// padding would let Linux deliver one more fd); controlFds 0 means no control buffer at all.
// Every SCM_RIGHTS message is parsed; other control messages are skipped.
Napi::Value Recvmsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  int64_t size = ArgInt(info, 1, "dataSize", 65536);
  int64_t want = ArgInt(info, 2, "controlFds", 253);
  if (size < 0 || size > (int64_t{1} << 31)) throw Napi::RangeError::New(env, "dataSize out of range");
  if (want < 0 || want > (int64_t{1} << 20)) throw Napi::RangeError::New(env, "controlFds out of range");
  int flags = static_cast<int>(ArgInt(info, 3, "flags", 0)) | MSG_DONTWAIT;

  std::vector<uint8_t> buf(static_cast<size_t>(size) + 1);  // +1: never a null base pointer
  size_t ctl_len = want > 0 ? CMSG_LEN(static_cast<size_t>(want) * sizeof(int)) : 0;
  std::vector<cmsghdr> control = ControlBuffer(ctl_len);
  iovec iov{buf.data(), static_cast<size_t>(size)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl_len > 0 ? control.data() : nullptr;
  msg.msg_controllen = ctl_len;
  ssize_t n;
  do n = recvmsg(fd, &msg, flags);
  while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(env, "recvmsg", errno);

  Napi::Array fds = Napi::Array::New(env);
  uint32_t count = 0;
  if (msg.msg_control != nullptr && msg.msg_controllen >= sizeof(cmsghdr)) {
    char* end = reinterpret_cast<char*>(msg.msg_control) + msg.msg_controllen;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
      // A truncated message (MSG_CTRUNC) may claim more than the buffer holds: count what is there.
      size_t room = static_cast<size_t>(end - reinterpret_cast<char*>(CMSG_DATA(c)));
      size_t len = c->cmsg_len - CMSG_LEN(0);
      size_t k = (len < room ? len : room) / sizeof(int);
      for (size_t i = 0; i < k; i++) {
        int received;
        std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        fds.Set(count++, Napi::Number::New(env, received));
      }
    }
  }
  Napi::Object out = Napi::Object::New(env);
  // With MSG_TRUNC as an input flag a packet socket returns the full length, which may exceed the
  // buffer: data holds what was copied, length what recvmsg returned.
  size_t copied = static_cast<size_t>(n) < static_cast<size_t>(size) ? static_cast<size_t>(n) : static_cast<size_t>(size);
  out.Set("data", Napi::Buffer<uint8_t>::Copy(env, buf.data(), copied));
  out.Set("length", Napi::Number::New(env, static_cast<double>(n)));
  out.Set("fds", fds);
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
