/**
 * "uds-conformance/adapter": the in-process driver interface, for a library that lives in the test's
 * own process. An adapter is an object whose async methods are docs/driver-protocol.md's commands
 * (DriverAdapter): give `() => adapter` to defineSubject's `driver.adapter` and the suite drives it
 * with the same checks, deadlines and evidence as a process driver; give it to serveAdapter and it is
 * a process driver too (for the properties that need a process of their own). docs/adapters.md has a
 * worked example. Everything here is re-exported from the one definition in suite/driver/, so the
 * shipped adapters (fixtures/ts-net/driver.ts, fixtures/ts-native/driver.ts) and a user's are typed
 * alike.
 *
 * This entry imports nothing of the orchestration (runSuite, the registry): an adapter module can
 * import it without loading the suite, and the built-in adapters do so without an import cycle.
 */
export {
  /** Socket types a unit can run on, and address kinds: what `hello` lists per socket. */
  SOCKET_TYPES,
  ADDRESS_KINDS,
  /** The features a `hello` answer claims per socket type × address kind (uds-driver/2 `sockets`). */
  SOCKET_FEATURES,
  /** The protocol version the shipped drivers speak, and every version the harness accepts. */
  DRIVER_PROTOCOL,
  DRIVER_PROTOCOLS,
  /** Every command of the protocol: the method names of DriverAdapter. */
  DRIVER_COMMANDS,
  SOCKET_OPTIONS,
  RLIMIT_RESOURCES,
  socketsOf,
  featuresAt,
  type SocketType,
  type AddressKind,
  type SocketFeature,
  type SocketSupport,
  type Capabilities,
  type DriverCommand,
  type RlimitResource,
  type SocketOption,
  type HelloAnswer,
  type AddressFields,
  type AddressAnswer,
  type Ucred,
  type ControlMessage,
  type ListenFields,
  type BindFields,
  type ConnectFields,
  type SendFields,
  type SendtoFields,
  type RecvFields,
  type RecvAnswer,
  type RecvfromAnswer,
  type MkfdFields,
  type FdStat,
  type OpenFd,
  type DriverErrorInfo,
  type DriverAdapter,
  type Transport,
} from './driver/protocol.js';
export {
  /** One command object in, the answer object out: what both transports do with an adapter. */
  dispatchCommand,
  type Dispatched,
} from './driver/dispatch.js';
/** Serves an adapter over JSON lines (stdin/stdout): an adapter as a process driver. */
export { serveAdapter } from './driver/serve.js';
/** sun_path's room for a pathname: 107 bytes and the NUL (unix(7)); longer is ENAMETOOLONG. */
export { SUN_PATH_MAX } from './model/seed.js';
