// uds_native: what node:net lacks for Unix domain sockets (SCM_RIGHTS, recvmsg with an exact
// control buffer, SEQPACKET/DGRAM, SO_PEERCRED) plus the fd helpers the conformance checks need.
// The typed wrapper is native/index.ts; this file only registers the parts.
#include "common.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  uds::InitErrors(env, exports);
  uds::InitSockets(env, exports);
  uds::InitMessages(env, exports);
  uds::InitFiles(env, exports);
  uds::InitPoll(env, exports);
  uds::InitDiag(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(uds_native, Init)
