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

// Closes the netlink socket on every way out.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// One exact request (no NLM_F_DUMP) for the socket with inode `ino`, as in sock_diag(7)'s example.
// Returns 0 and fills out, or the positive errno the kernel (or a call) answered: ENOENT when no
// AF_UNIX socket has that inode, and also when the kernel has no unix_diag (see Diag below).
int Query(uint32_t ino, DiagAnswer* out) {
  Fd nl{socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)};
  if (nl.fd < 0) return errno;

  struct {
    nlmsghdr nlh;
    unix_diag_req udr;
  } req;
  memset(&req, 0, sizeof req);
  req.nlh.nlmsg_len = sizeof req;
  req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.nlh.nlmsg_flags = NLM_F_REQUEST;
  req.nlh.nlmsg_seq = 1;
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
    sent = sendto(nl.fd, &req, sizeof req, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return errno;

  // The kernel answers within sendto (netlink_unicast to the kernel runs sock_diag's handler in the
  // caller's context), so the reply is queued by now: MSG_DONTWAIT keeps this from ever blocking.
  alignas(nlmsghdr) uint8_t buf[8192];
  ssize_t got;
  do {
    got = recv(nl.fd, buf, sizeof buf, MSG_DONTWAIT);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return errno;

  int len = static_cast<int>(got);
  for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
    if (h->nlmsg_seq != req.nlh.nlmsg_seq) continue;
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
  return EPROTO;
}

// unixDiag(inode) -> { type, state, rqueue, wqueue } | null. null: no AF_UNIX socket has that inode
// (in this network namespace: the kernel's tables, like /proc/net/unix, are per namespace).
// The kernel answers ENOENT for that, and also when it has no unix_diag at all (sock_diag without
// the module): so an ENOENT is checked against a socket that surely exists (a socketpair of our own),
// and when that one is not found either, the ENOENT is thrown rather than read as "no such socket".
Napi::Value Diag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "inode must be a number");
  double d = info[0].As<Napi::Number>().DoubleValue();
  // unix_diag_req.udiag_ino is a __u32.
  if (!(d >= 0 && d <= UINT32_MAX) || static_cast<double>(static_cast<uint32_t>(d)) != d) {
    throw Napi::TypeError::New(env, "inode must be an integer from 0 to 2^32 - 1");
  }
  // No socket has inode 0 (the kernel answers EINVAL for it, not ENOENT).
  if (d == 0) return env.Null();
  DiagAnswer answer{};
  int err = Query(static_cast<uint32_t>(d), &answer);
  if (err == ENOENT) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) ThrowErrno(env, "socketpair", errno);
    struct stat st;
    int probe = fstat(sv[0], &st) < 0 ? errno : Query(static_cast<uint32_t>(st.st_ino), &answer);
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

}  // namespace

void InitDiag(Napi::Env env, Napi::Object exports) {
  exports.Set("unixDiag", Napi::Function::New(env, Diag, "unixDiag"));
}

}  // namespace uds
