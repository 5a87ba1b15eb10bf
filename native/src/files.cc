// Plain fd helpers the checks need: close, fstat, FD_CLOEXEC, F_GETFL, lseek, read, write, pipe,
// memfd_create, open, the list of open fds, and the process's RLIMIT_NOFILE.
#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "common.h"

namespace uds {
namespace {

// close(fd): cancels pending waits on fd first (they reject with ECANCELED). EINTR counts as
// closed: Linux releases the fd before it can be interrupted.
Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  CancelWaits(info.Env(), fd);
  if (close(fd) < 0 && errno != EINTR) ThrowErrno(info.Env(), "close", errno);
  return info.Env().Undefined();
}

const char* KindOf(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "file";
    case S_IFDIR: return "dir";
    case S_IFIFO: return "pipe";
    case S_IFSOCK: return "socket";
    case S_IFCHR: return "chr";
    case S_IFBLK: return "blk";
    case S_IFLNK: return "link";
    default: return "unknown";
  }
}

Napi::Value Fstat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  struct stat st;
  if (fstat(fd, &st) < 0) ThrowErrno(env, "fstat", errno);
  Napi::Object out = Napi::Object::New(env);
  out.Set("dev", Napi::Number::New(env, static_cast<double>(st.st_dev)));
  out.Set("ino", Napi::Number::New(env, static_cast<double>(st.st_ino)));
  out.Set("mode", Napi::Number::New(env, st.st_mode));
  out.Set("kind", Napi::String::New(env, KindOf(st.st_mode)));
  out.Set("size", Napi::Number::New(env, static_cast<double>(st.st_size)));
  out.Set("nlink", Napi::Number::New(env, static_cast<double>(st.st_nlink)));
  out.Set("uid", Napi::Number::New(env, st.st_uid));
  out.Set("gid", Napi::Number::New(env, st.st_gid));
  out.Set("rdev", Napi::Number::New(env, static_cast<double>(st.st_rdev)));
  return out;
}

Napi::Value GetCloexec(const Napi::CallbackInfo& info) {
  int flags = fcntl(ArgFd(info, 0), F_GETFD);
  if (flags < 0) ThrowErrno(info.Env(), "fcntl", errno);
  return Napi::Boolean::New(info.Env(), (flags & FD_CLOEXEC) != 0);
}

Napi::Value SetCloexec(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  bool on = ArgBool(info, 1, true);
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) ThrowErrno(info.Env(), "fcntl", errno);
  flags = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
  if (fcntl(fd, F_SETFD, flags) < 0) ThrowErrno(info.Env(), "fcntl", errno);
  return info.Env().Undefined();
}

Napi::Value GetFlags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fl = fcntl(ArgFd(info, 0), F_GETFL);
  if (fl < 0) ThrowErrno(env, "fcntl", errno);
  int acc = fl & O_ACCMODE;
  Napi::Object out = Napi::Object::New(env);
  out.Set("raw", Napi::Number::New(env, fl));
  out.Set("accmode", Napi::String::New(env, acc == O_RDONLY ? "O_RDONLY" : acc == O_WRONLY ? "O_WRONLY" : acc == O_RDWR ? "O_RDWR" : "O_PATH"));
  out.Set("nonblock", Napi::Boolean::New(env, (fl & O_NONBLOCK) != 0));
  out.Set("append", Napi::Boolean::New(env, (fl & O_APPEND) != 0));
  return out;
}

Napi::Value SetNonblock(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  bool on = ArgBool(info, 1, true);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) ThrowErrno(info.Env(), "fcntl", errno);
  if (fcntl(fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK)) < 0) ThrowErrno(info.Env(), "fcntl", errno);
  return info.Env().Undefined();
}

Napi::Value Lseek(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  off_t offset = static_cast<off_t>(ArgInt(info, 1, "offset", 0));
  int whence = static_cast<int>(ArgInt(info, 2, "whence", SEEK_SET));
  off_t r = lseek(fd, offset, whence);
  if (r < 0) ThrowErrno(info.Env(), "lseek", errno);
  return Napi::Number::New(info.Env(), static_cast<double>(r));
}

// read(fd, n): one read(2) of at most n bytes; an empty Buffer at EOF.
Napi::Value Read(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  int64_t n = ArgInt(info, 1, "length", 65536);
  if (n < 0 || n > (int64_t{1} << 31)) throw Napi::RangeError::New(info.Env(), "length out of range");
  std::vector<uint8_t> buf(static_cast<size_t>(n) + 1);
  ssize_t got;
  do got = read(fd, buf.data(), static_cast<size_t>(n));
  while (got < 0 && errno == EINTR);
  if (got < 0) ThrowErrno(info.Env(), "read", errno);
  return Napi::Buffer<uint8_t>::Copy(info.Env(), buf.data(), static_cast<size_t>(got));
}

// write(fd, data): one write(2); returns the count written (may be short).
Napi::Value Write(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  Bytes data = ArgBytes(info, 1, "data");
  ssize_t n;
  do n = write(fd, data.data, data.length);
  while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(info.Env(), "write", errno);
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// pipe(nonblock, cloexec) -> [readFd, writeFd]
Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int flags = (ArgBool(info, 0, true) ? O_NONBLOCK : 0) | (ArgBool(info, 1, true) ? O_CLOEXEC : 0);
  int p[2];
  if (pipe2(p, flags) < 0) ThrowErrno(info.Env(), "pipe", errno);
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Number::New(info.Env(), p[0]));
  out.Set(1u, Napi::Number::New(info.Env(), p[1]));
  return out;
}

Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  unsigned flags = ArgBool(info, 1, true) ? MFD_CLOEXEC : 0;
  int fd = memfd_create(name.c_str(), flags);
  if (fd < 0) ThrowErrno(info.Env(), "memfd_create", errno);
  return Napi::Number::New(info.Env(), fd);
}

// open(path, flags, mode): flags exactly as given (the wrapper adds O_CLOEXEC).
Napi::Value Open(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  int flags = static_cast<int>(ArgInt(info, 1, "flags", O_RDONLY));
  mode_t mode = static_cast<mode_t>(ArgInt(info, 2, "mode", 0600));
  int fd;
  do fd = open(path.c_str(), flags, mode);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) ThrowErrno(info.Env(), "open", errno, &path);
  return Napi::Number::New(info.Env(), fd);
}

// Every fd in /proc/self/fd, sorted, without the one used to list it. Out of fds (EMFILE), every
// fd number below 2^20 is asked with fcntl instead (inherited fds may sit above RLIMIT_NOFILE).
Napi::Value ListOpenFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<int> fds;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr && errno != EMFILE && errno != ENFILE) ThrowErrno(env, "opendir", errno);
  if (d == nullptr) {
    for (int fd = 0; fd < (1 << 20); fd++)
      if (fcntl(fd, F_GETFD) >= 0) fds.push_back(fd);
  } else {
    int self = dirfd(d);
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      int fd = atoi(e->d_name);
      if (fd != self) fds.push_back(fd);
    }
    closedir(d);
    std::sort(fds.begin(), fds.end());
  }
  Napi::Array out = Napi::Array::New(env, fds.size());
  for (size_t i = 0; i < fds.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, fds[i]));
  return out;
}

// setrlimit(RLIMIT_NOFILE) of this process: the soft limit to soft, the hard limit kept (above it,
// the kernel's EINVAL). Returns the soft limit before, RLIM_INFINITY as -1. It limits the whole
// process: a caller that shares its process (the harness) must not use it.
Napi::Value SetNofileSoft(const Napi::CallbackInfo& info) {
  int64_t soft = ArgInt(info, 0, "soft", -1);
  if (soft < 0) throw Napi::TypeError::New(info.Env(), "soft must be a non-negative integer");
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) ThrowErrno(info.Env(), "getrlimit", errno);
  rlim_t previous = rl.rlim_cur;
  rl.rlim_cur = static_cast<rlim_t>(soft);
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0) ThrowErrno(info.Env(), "setrlimit", errno);
  return Napi::Number::New(info.Env(), previous == RLIM_INFINITY ? -1.0 : static_cast<double>(previous));
}

}  // namespace

void InitFiles(Napi::Env env, Napi::Object exports) {
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("fstat", Napi::Function::New(env, Fstat, "fstat"));
  exports.Set("getCloexec", Napi::Function::New(env, GetCloexec, "getCloexec"));
  exports.Set("setCloexec", Napi::Function::New(env, SetCloexec, "setCloexec"));
  exports.Set("getFlags", Napi::Function::New(env, GetFlags, "getFlags"));
  exports.Set("setNonblock", Napi::Function::New(env, SetNonblock, "setNonblock"));
  exports.Set("lseek", Napi::Function::New(env, Lseek, "lseek"));
  exports.Set("read", Napi::Function::New(env, Read, "read"));
  exports.Set("write", Napi::Function::New(env, Write, "write"));
  exports.Set("pipe", Napi::Function::New(env, Pipe, "pipe"));
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate, "memfdCreate"));
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("listOpenFds", Napi::Function::New(env, ListOpenFds, "listOpenFds"));
  exports.Set("setNofileSoft", Napi::Function::New(env, SetNofileSoft, "setNofileSoft"));
}

}  // namespace uds
