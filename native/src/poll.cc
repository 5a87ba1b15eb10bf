// Waiting for readiness without blocking the event loop: libuv polling (uv_poll_t on the loop of
// napi_get_uv_event_loop). wait(fd, events, syscall) returns a promise that resolves once the fd is
// readable or writable; the wrapper's async operations retry their non-blocking call after it.
//
// libuv allows one poll handle per fd, so each fd has one Poller shared by all its waiters; the
// handle polls for the union of their events and is closed as soon as no waiter is left (an idle
// fd holds no handle and does not keep the process alive). close() cancels the waits on an fd
// before close(2): libuv must stop polling an fd before the number can be reused.
#include <dlfcn.h>
#include <fcntl.h>
#include <uv.h>

#include <cerrno>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common.h"

namespace uds {
namespace {

constexpr int kReadable = UV_READABLE;
constexpr int kWritable = UV_WRITABLE;

struct Waiter {
  uint32_t id;
  int events;  // kReadable and/or kWritable
  napi_deferred deferred;
  std::string syscall;
};

struct PollState;

struct Poller {
  uv_poll_t handle;
  int fd;
  int events;  // what the handle polls for now
  PollState* state;
  std::vector<Waiter> waiters;
};

struct PollState {
  Napi::Env env;
  uv_loop_t* loop;
  Napi::AsyncContext* async;  // for the callback scope that settles promises from a uv callback
  std::unordered_map<int, Poller*> pollers;
  uint32_t next_id = 1;
};

PollState* State(Napi::Env env) { return env.GetInstanceData<PollState>(); }

void OnClosed(uv_handle_t* handle) { delete static_cast<Poller*>(handle->data); }

void OnPoll(uv_poll_t* handle, int status, int events);

// What the handle must poll for; UV_DISCONNECT too, so a hang-up wakes readers.
int WantedEvents(const std::vector<Waiter>& waiters) {
  int ev = 0;
  for (const Waiter& w : waiters) ev |= w.events;
  return (ev & kReadable) ? (ev | UV_DISCONNECT) : ev;
}

// Resolves (err == 0) or rejects with an errno error. From a uv callback a callback scope is
// opened, so the promise reactions (microtasks) run before control returns to libuv.
void Settle(PollState* s, std::vector<Waiter>& waiters, int err, bool from_uv) {
  if (waiters.empty()) return;
  Napi::Env env = s->env;
  Napi::HandleScope scope(env);
  auto settle = [&]() {
    for (Waiter& w : waiters) {
      if (err == 0)
        napi_resolve_deferred(env, w.deferred, env.Undefined());
      else
        napi_reject_deferred(env, w.deferred, ErrnoError(env, w.syscall.c_str(), err).Value());
    }
  };
  if (from_uv) {
    Napi::CallbackScope callback_scope(env, *s->async);
    settle();
  } else {
    settle();
  }
}

// Detaches the poller from its fd and closes its handle; the Poller is freed in OnClosed.
void Retire(Poller* p) {
  auto it = p->state->pollers.find(p->fd);
  if (it != p->state->pollers.end() && it->second == p) p->state->pollers.erase(it);
  uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), OnClosed);
}

// After waiters left: close the handle when none remain, else poll for what the rest want.
// Returns a libuv error from uv_poll_start (then every remaining waiter has been handed back).
int Update(Poller* p, std::vector<Waiter>* failed) {
  if (p->waiters.empty()) {
    Retire(p);
    return 0;
  }
  int ev = WantedEvents(p->waiters);
  if (ev == p->events) return 0;
  int r = uv_poll_start(&p->handle, ev, OnPoll);
  if (r < 0) {
    for (Waiter& w : p->waiters) failed->push_back(std::move(w));
    p->waiters.clear();
    Retire(p);
    return r;
  }
  p->events = ev;
  return 0;
}

void OnPoll(uv_poll_t* handle, int status, int events) {
  Poller* p = static_cast<Poller*>(handle->data);
  PollState* s = p->state;
  std::vector<Waiter> ready, rest;
  for (Waiter& w : p->waiters) {
    bool ok = status < 0 || ((w.events & kReadable) && (events & (kReadable | UV_DISCONNECT))) ||
              ((w.events & kWritable) && (events & kWritable));
    (ok ? ready : rest).push_back(std::move(w));
  }
  p->waiters = std::move(rest);
  std::vector<Waiter> failed;
  int r = Update(p, &failed);  // p may be retired from here on: not touched again
  Settle(s, ready, status < 0 ? -status : 0, true);
  Settle(s, failed, -r, true);
}

// wait(fd, events, syscall) -> { id, promise }. events: 1 readable, 2 writable, 3 either.
// A regular file or directory cannot be polled (EPERM) and is always ready: resolved at once. Other
// uv_poll_init errors reject the promise (EEXIST: libuv already watches the fd, e.g. a net.Socket).
Napi::Value Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PollState* s = State(env);
  int fd = ArgFd(info, 0);
  int events = static_cast<int>(ArgInt(info, 1, "events", kReadable)) & (kReadable | kWritable);
  if (events == 0) throw Napi::TypeError::New(env, "events must be 1 (readable), 2 (writable) or 3");
  std::string syscall = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "poll";
  napi_deferred deferred;
  napi_value promise;
  NAPI_THROW_IF_FAILED(env, napi_create_promise(env, &deferred, &promise), Napi::Value());
  uint32_t id = s->next_id++;
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", Napi::Number::New(env, id));
  out.Set("promise", Napi::Value(env, promise));

  auto it = s->pollers.find(fd);
  Poller* p = it == s->pollers.end() ? nullptr : it->second;
  if (p == nullptr) {
    p = new Poller();
    p->fd = fd;
    p->events = 0;
    p->state = s;
    p->handle.data = p;
    // uv_poll_init makes the fd non-blocking; on an fd that was blocking (one received from another
    // process, say) the flag is put back, since it belongs to an open file description others share.
    int fl = fcntl(fd, F_GETFL);
    int r = uv_poll_init(s->loop, &p->handle, fd);
    if (r == 0 && fl >= 0 && !(fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl);
    if (r < 0) {
      delete p;
      if (r == UV_EPERM)
        napi_resolve_deferred(env, deferred, env.Undefined());
      else
        napi_reject_deferred(env, deferred, ErrnoError(env, syscall.c_str(), -r).Value());
      return out;
    }
    s->pollers[fd] = p;
  }
  p->waiters.push_back(Waiter{id, events, deferred, std::move(syscall)});
  std::vector<Waiter> failed;
  int r = Update(p, &failed);
  if (r < 0) Settle(s, failed, -r, false);
  return out;
}

// cancelWait(fd, id) -> whether that wait was pending; it rejects with ECANCELED.
Napi::Value CancelWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PollState* s = State(env);
  int fd = ArgFd(info, 0);
  uint32_t id = static_cast<uint32_t>(ArgInt(info, 1, "id", 0));
  auto it = s->pollers.find(fd);
  if (it == s->pollers.end()) return Napi::Boolean::New(env, false);
  Poller* p = it->second;
  std::vector<Waiter> cancelled;
  for (size_t i = 0; i < p->waiters.size(); i++) {
    if (p->waiters[i].id != id) continue;
    cancelled.push_back(std::move(p->waiters[i]));
    p->waiters.erase(p->waiters.begin() + static_cast<std::ptrdiff_t>(i));
    break;
  }
  if (cancelled.empty()) return Napi::Boolean::New(env, false);
  std::vector<Waiter> failed;
  int r = Update(p, &failed);
  Settle(s, cancelled, ECANCELED, false);
  Settle(s, failed, -r, false);
  return Napi::Boolean::New(env, true);
}

// How many fds have a poll handle now (for leak checks in tests).
Napi::Value ActivePolls(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(State(info.Env())->pollers.size()));
}

void FinalizeState(Napi::Env, PollState* s) {
  for (auto& [fd, p] : s->pollers) uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), OnClosed);
  s->pollers.clear();
  delete s->async;
  delete s;
}

}  // namespace

void CancelWaits(Napi::Env env, int fd) {
  PollState* s = State(env);
  if (s == nullptr) return;
  auto it = s->pollers.find(fd);
  if (it == s->pollers.end()) return;
  Poller* p = it->second;
  std::vector<Waiter> cancelled = std::move(p->waiters);
  p->waiters.clear();
  Retire(p);
  Settle(s, cancelled, ECANCELED, false);
}

void InitPoll(Napi::Env env, Napi::Object exports) {
  // A worker's addons are unloaded when it exits, but libuv runs the close callbacks of its handles
  // (OnClosed, in this library) after that. Pinning the library keeps those callbacks mapped.
  static std::once_flag pinned;
  std::call_once(pinned, [] {
    Dl_info self;
    if (dladdr(reinterpret_cast<void*>(&OnClosed), &self) != 0 && self.dli_fname != nullptr)
      dlopen(self.dli_fname, RTLD_NOW | RTLD_NODELETE);
  });
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr)
    throw Napi::Error::New(env, "uds_native: no libuv event loop");
  PollState* s = new PollState{env, loop, new Napi::AsyncContext(env, "UdsNativePoll"), {}};
  env.SetInstanceData<PollState, FinalizeState>(s);
  exports.Set("wait", Napi::Function::New(env, Wait, "wait"));
  exports.Set("cancelWait", Napi::Function::New(env, CancelWait, "cancelWait"));
  exports.Set("activePolls", Napi::Function::New(env, ActivePolls, "activePolls"));
}

}  // namespace uds
