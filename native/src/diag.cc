// sock_diag for AF_UNIX (sock_diag(7), unix_diag): one socket looked up by inode in the kernel's
// tables, no dump and no process. The harness asks it how many connections are queued on a listener
// (suite/harness/peers.ts): /proc/net/unix shows an embryo only by its path string, which two
// listeners in different dirs can share, while the inode names exactly one socket.
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

#ifndef INET_DIAG_NOCOOKIE
#define INET_DIAG_NOCOOKIE (~0U)  // linux/inet_diag.h; "no cookie": the lookup is by inode alone
#endif

namespace uds {
namespace {

struct DiagAnswer {
  uint8_t type;    // SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM
  uint8_t state;   // TCP_LISTEN (10) for a listener, TCP_ESTABLISHED (1) for a connected socket, ...
  bool hasRqlen;
  uint32_t rqueue;  // a listener: connections queued, not yet accepted; else: bytes unread
  uint32_t wqueue;  // a listener: its backlog; else: bytes sent, not yet read
};

// The NETLINK_SOCK_DIAG socket one env (the main thread's or a worker's) asks through: opened at
// its first question and kept (a socket(2) and close(2) per question were ~40% of its cost); closed
// by the env's cleanup hook. An env runs on one thread at a time, so no lock. `dev`/`ino` tell that the
// fd number is still this socket: code that closed it by number (the fd is no secret) may have had the
// number reused by a file of its own, which must be neither written to nor closed.
struct DiagSocket {
  int fd = -1;
  dev_t dev = 0;
  ino_t ino = 0;
  uint32_t seq = 0;  // the last request's nlmsg_seq: every question has its own
};

void Forget(DiagSocket* s, bool close_it) {
  if (close_it && s->fd >= 0) close(s->fd);
  s->fd = -1;
}

// The socket to ask through: the one held, if it still is what was opened, else a new one.
int Open(DiagSocket* s) {
  if (s->fd >= 0) {
    struct stat st;
    if (fstat(s->fd, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino) return 0;
    Forget(s, false);  // closed behind our back, maybe reused: not ours to close
  }
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return errno;
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int err = errno;
    close(fd);
    return err;
  }
  *s = DiagSocket{fd, st.st_dev, st.st_ino, s->seq};
  return 0;
}

// Errors of sendto/recv that say the socket itself is unusable (netlink(7)), not the question: the
// socket is replaced and the question asked once more. ENOBUFS: the receive queue overran and
// replies were dropped, so it is drained by replacement rather than trusted.
bool SocketIsBad(int err) { return err == EBADF || err == ENOTSOCK || err == ECONNREFUSED || err == ENOBUFS; }

// The answer in one datagram to request `seq`: 0 or a positive errno, or -1 when it holds none.
int Read(uint8_t* buf, int len, uint32_t seq, uint32_t ino, DiagAnswer* out) {
  for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
    if (h->nlmsg_seq != seq) continue;
    if (h->nlmsg_type == NLMSG_ERROR) {
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return EPROTO;
      int err = reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
      return err < 0 ? -err : EPROTO;  // an exact request is answered by a message, never by ack 0
    }
    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(unix_diag_msg))) return EPROTO;
    auto* msg = reinterpret_cast<unix_diag_msg*>(NLMSG_DATA(h));
    if (msg->udiag_family != AF_UNIX || msg->udiag_ino != ino) return EPROTO;
    out->type = msg->udiag_type;
    out->state = msg->udiag_state;
    out->hasRqlen = false;
    int attrs = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof *msg));
    for (auto* a = reinterpret_cast<rtattr*>(msg + 1); RTA_OK(a, attrs); a = RTA_NEXT(a, attrs)) {
      if (a->rta_type == UNIX_DIAG_RQLEN && RTA_PAYLOAD(a) >= sizeof(unix_diag_rqlen)) {
        auto* rq = reinterpret_cast<unix_diag_rqlen*>(RTA_DATA(a));
        out->hasRqlen = true;
        out->rqueue = rq->udiag_rqueue;
        out->wqueue = rq->udiag_wqueue;
      }
    }
    return out->hasRqlen ? 0 : EPROTO;
  }
  return -1;
}

// One exact request (no NLM_F_DUMP) for the socket with inode `ino`, as in sock_diag(7)'s example.
// Returns 0 and fills out, or the positive errno the kernel (or a call) answered: ENOENT when no
// AF_UNIX socket has that inode, and also when the kernel has no unix_diag (see Diag below).
int Ask(DiagSocket* s, uint32_t ino, DiagAnswer* out) {
  struct {
    nlmsghdr nlh;
    unix_diag_req udr;
  } req;
  memset(&req, 0, sizeof req);
  req.nlh.nlmsg_len = sizeof req;
  req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.nlh.nlmsg_flags = NLM_F_REQUEST;
  if (++s->seq == 0) s->seq = 1;
  req.nlh.nlmsg_seq = s->seq;
  req.udr.sdiag_family = AF_UNIX;
  req.udr.udiag_states = ~0U;
  req.udr.udiag_ino = ino;
  req.udr.udiag_cookie[0] = INET_DIAG_NOCOOKIE;
  req.udr.udiag_cookie[1] = INET_DIAG_NOCOOKIE;
  req.udr.udiag_show = UDIAG_SHOW_RQLEN;

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = sendto(s->fd, &req, sizeof req, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return errno;

  // The kernel answers within sendto (netlink_unicast to the kernel runs sock_diag's handler in the
  // caller's context), so the reply is queued by now: MSG_DONTWAIT keeps this from ever blocking.
  // Replies of earlier questions that were never read (one that failed half-way) come first in the
  // queue: each datagram not from the kernel or not of this request's seq is skipped, until this
  // one's reply, or an empty queue (EAGAIN: no reply came).
  alignas(nlmsghdr) uint8_t buf[8192];
  for (;;) {
    sockaddr_nl from{};
    socklen_t fromlen = sizeof from;
    ssize_t got;
    do {
      got = recvfrom(s->fd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fromlen);
    } while (got < 0 && errno == EINTR);
    if (got < 0) return errno;
    if (from.nl_pid != 0) continue;
    int answered = Read(buf, static_cast<int>(got), req.nlh.nlmsg_seq, ino, out);
    if (answered >= 0) return answered;
  }
}

// Ask through the env's socket; a socket found bad is replaced and the question asked once more.
int Query(DiagSocket* s, uint32_t ino, DiagAnswer* out) {
  for (int attempt = 0;; attempt++) {
    int err = Open(s);
    if (err != 0) return err;
    err = Ask(s, ino, out);
    if (attempt > 0 || !SocketIsBad(err)) return err;
    Forget(s, err != EBADF);
  }
}

// unixDiag(inode) -> { type, state, rqueue, wqueue } | null. null: no AF_UNIX socket has that inode
// (in this network namespace: the kernel's tables, like /proc/net/unix, are per namespace).
// The kernel answers ENOENT for that, and also when it has no unix_diag at all (sock_diag without
// the module): so an ENOENT is checked against a socket that surely exists (a socketpair of our own),
// and when that one is not found either, the ENOENT is thrown rather than read as "no such socket".
Napi::Value Diag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* s = static_cast<DiagSocket*>(info.Data());
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "inode must be a number");
  double d = info[0].As<Napi::Number>().DoubleValue();
  // unix_diag_req.udiag_ino is a __u32.
  if (!(d >= 0 && d <= UINT32_MAX) || static_cast<double>(static_cast<uint32_t>(d)) != d) {
    throw Napi::TypeError::New(env, "inode must be an integer from 0 to 2^32 - 1");
  }
  // No socket has inode 0 (the kernel answers EINVAL for it, not ENOENT).
  if (d == 0) return env.Null();
  DiagAnswer answer{};
  int err = Query(s, static_cast<uint32_t>(d), &answer);
  if (err == ENOENT) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) ThrowErrno(env, "socketpair", errno);
    struct stat st;
    int probe = fstat(sv[0], &st) < 0 ? errno : Query(s, static_cast<uint32_t>(st.st_ino), &answer);
    close(sv[0]);
    close(sv[1]);
    if (probe != 0) ThrowErrno(env, "sock_diag", probe);
    return env.Null();
  }
  if (err != 0) ThrowErrno(env, "sock_diag", err);
  Napi::Object out = Napi::Object::New(env);
  out.Set("type", Napi::Number::New(env, answer.type));
  out.Set("state", Napi::Number::New(env, answer.state));
  out.Set("rqueue", Napi::Number::New(env, answer.rqueue));
  out.Set("wqueue", Napi::Number::New(env, answer.wqueue));
  return out;
}

// unixDiagSocket() -> the fd of the netlink socket unixDiag keeps in this env, -1 before its first
// question: a harness-wide fd, for an fd leak check to tell apart from a case's own.
Napi::Value HeldSocket(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<DiagSocket*>(info.Data())->fd);
}

void CloseAtCleanup(DiagSocket* s) {
  Forget(s, true);
  delete s;
}

}  // namespace

// One socket per env (not a static): vitest's forks and the CLI each have one env, a worker thread
// loading the addon has its own, and its cleanup hook closes the socket when that env ends. The
// instance data slot is poll.cc's, so the socket reaches its functions as their data.
void InitDiag(Napi::Env env, Napi::Object exports) {
  auto* s = new DiagSocket();
  env.AddCleanupHook(CloseAtCleanup, s);
  exports.Set("unixDiag", Napi::Function::New(env, Diag, "unixDiag", s));
  exports.Set("unixDiagSocket", Napi::Function::New(env, HeldSocket, "unixDiagSocket", s));
}

}  // namespace uds
