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
import { pathTooLongClient, pathTooLongServer } from './path-too-long.js';
import { pathEmbeddedNul, pathFullSunPathClient, pathFullSunPathServer, pathTrailingSlashClient, pathTrailingSlashServer } from './path-edges.js';
import { pathForms } from './paths.js';
import { pathLiveNotStolen, pathNonSocketKept } from './path-ownership.js';

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
  ];
}
