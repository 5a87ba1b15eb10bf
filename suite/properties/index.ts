/** Every conformance property, in report order. Each area lives in its own file. */
import type { Property } from './property.js';
import { cleanupPathRemoved, stalePathReplaced } from './cleanup.js';
import { cleanupClientKeepsPath, cleanupOwnPathOnly, pathMode } from './cleanup-ownership.js';
import { connectEconnrefused, connectEnoent } from './connect.js';
import { deliveryDefaultMessage, deliveryPayload } from './delivery.js';
import { eofExitZero, eofSilentServer } from './eof.js';
import { fdCapability, fdKinds, fdManyInOrder, fdSameDescription, fdScmMax } from './fd/identity.js';
import { fdCloexec, fdCtruncClosesExcess, fdFirstByteOnly, fdNeedsDataByte, fdPlainReadDiscards } from './fd/stream.js';
import { fdMessageBoundary } from './fd/seqpacket.js';
import { abstractAutobind, abstractConnect, abstractExactLength, abstractGetsockname, abstractNoFile, abstractReleased } from './abstract.js';
import { credForgedPid, credPasscred, credPeercred, credPeercredUnprivileged, credWithFds } from './credentials.js';
import { packetBoundaries, packetEmsgsize, packetTruncation, packetZeroLength, streamLargeSend } from './packets.js';
import { dgramPeerClosed, dgramQueueFull, seqpacketEof } from './datagrams.js';
import { typeMismatchAbstract, typeMismatchPathname } from './socket-types.js';
import { pathTooLongClient, pathTooLongServer } from './path-too-long.js';
import { pathEmbeddedNul, pathFullSunPathClient, pathFullSunPathServer, pathTrailingSlashClient, pathTrailingSlashServer } from './path-edges.js';
import { pathForms } from './paths.js';
import { pathLiveNotStolen, pathNonSocketKept } from './path-ownership.js';
import { sequenceEquivalent } from './sequences.js';
import { streamCloseUnreadReset, streamHalfClose, streamPeekThenRead, streamWriteAfterPeerClose } from './stream-lifecycle.js';
import { connectBacklogFull, fdRlimitCtrunc, streamManyClients } from './connect-backlog.js';

export function allProperties(): Property<any>[] {
  return [
    deliveryPayload,
    deliveryDefaultMessage,
    eofExitZero,
    eofSilentServer,
    cleanupPathRemoved,
    stalePathReplaced,
    cleanupOwnPathOnly,
    cleanupClientKeepsPath,
    connectEnoent,
    connectEconnrefused,
    pathForms,
    pathTooLongServer,
    pathTooLongClient,
    pathFullSunPathServer,
    pathFullSunPathClient,
    pathTrailingSlashServer,
    pathTrailingSlashClient,
    pathEmbeddedNul,
    pathMode,
    pathLiveNotStolen,
    pathNonSocketKept,
    fdSameDescription,
    fdManyInOrder,
    fdScmMax,
    fdKinds,
    fdFirstByteOnly,
    fdCtruncClosesExcess,
    fdPlainReadDiscards,
    fdCloexec,
    fdNeedsDataByte,
    fdCapability,
    fdMessageBoundary,
    abstractConnect,
    abstractExactLength,
    abstractNoFile,
    abstractReleased,
    abstractGetsockname,
    abstractAutobind,
    credPeercred,
    credPeercredUnprivileged,
    credPasscred,
    credWithFds,
    credForgedPid,
    packetBoundaries,
    packetTruncation,
    packetEmsgsize,
    streamLargeSend,
    packetZeroLength,
    seqpacketEof,
    dgramPeerClosed,
    dgramQueueFull,
    typeMismatchPathname,
    typeMismatchAbstract,
    sequenceEquivalent,
    streamHalfClose,
    streamCloseUnreadReset,
    streamWriteAfterPeerClose,
    streamPeekThenRead,
    connectBacklogFull,
    streamManyClients,
    fdRlimitCtrunc,
  ];
}
