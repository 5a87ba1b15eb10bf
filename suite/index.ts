/**
 * "uds-conformance": the suite as a library (docs/api.md). One orchestration, runSuite, which the CLI
 * calls too; defineSubject to make a subject in code (a manifest object, command templates or
 * in-process functions); listProperties; the report writers; and every type a caller meets in them,
 * exported by name (test/api.test.ts checks that no type reachable from here is left unnamed).
 * The in-process driver interface has its own entry, "uds-conformance/adapter", and the vitest
 * integration "uds-conformance/vitest".
 */

// The orchestration.
/**
 * Runs the suite: plans every property × pairing × socket type × address kind, runs the units, blames
 * the failing cells that involve a subject, and resolves with the report (writing it, printing and the
 * exit status are the caller's: writeReports, exitCodeFor). Rejects with NothingToRun when the filters
 * leave nothing, and with InstallError when the suite's own programs or addon are missing.
 */
export { runSuite, NothingToRun, type RunSuiteOptions } from './run.js';
/** A broken install of the suite itself (its C programs or addon): the harness's fault, never a subject's. */
export { InstallError } from './harness/install.js';

// Subjects.
/**
 * A subject made in code, checked like a manifest file (ajv, then every command resolved); a bad one
 * throws SubjectError naming the field before anything runs.
 */
export { defineSubject, SubjectError, type SubjectSpec, type ServerCommand, type InProcessServer, type InProcessClient, type DriverSubjectSpec } from './subjects/define.js';
/** A subject as runSuite takes it (what a manifest file loads to), and a manifest's error ("<file>: <field>: <message>"). */
export { ManifestError, type Subject } from './subjects/manifest.js';

// Properties.
/** The properties, without their checks, filtered by id globs as `--property` takes them. */
export { listProperties } from './properties/list.js';
/** A property as data (its requirement, reference, inputs and check), and what it needs of the drivers. */
export type { Property, DriverNeeds } from './properties/property.js';
/** The harness a property's check is given (for a property written outside the suite, passed as runSuite's `properties`). */
export type { CaseContext, CaseOptions, CaseUnit, CaseDriverOptions, ServerHandle, ClientHandle, ClientResult, StartServerOptions, RunClientOptions, RunMode } from './harness/context.js';
/** What a check's handles carry: a role's captured stdout, a server's readiness, a started driver. */
export type { OutputCapture, CaptureOptions } from './harness/capture.js';
export type { ReadyOutcome } from './harness/readiness.js';
export type { Driver, DriverError, Address, SockName, ListenOptions, ConnectOptions, SendOptions, RecvOptions, RecvResult, MkfdOptions } from './driver/driver.js';
/** Thrown by a check: the requirement does not hold (CheckFailure), or the case cannot run on this pairing (Unsupported). */
export { CheckFailure, Unsupported } from './model/types.js';

// The vocabulary.
/**
 * Implementations and their roles, expectations, verdicts, results and their evidence (model/types.ts,
 * where each is documented field by field).
 */
export type {
  Implementation,
  ServerSpec,
  ClientSpec,
  RoleSpec,
  DriverSpec,
  CommandTemplate,
  InProcessServerOptions,
  InProcessClientOptions,
  InProcessRun,
  Expectation,
  Role,
  Level,
  Status,
  Blame,
  RerunCount,
  PropertyInfo,
  PropertyScope,
  Pairing,
  ResultEntry,
  Counterexample,
  Evidence,
  ByteComparison,
  ProcessSummary,
  SequenceEvidence,
  SocketType,
  AddressKind,
  Capabilities,
} from './model/types.js';
/** Every socket type and address kind, every status, and the name of a single-role property's absent side. */
export { SOCKET_TYPES, ADDRESS_KINDS, STATUSES, NO_PEER } from './model/types.js';
/** The driver protocol's types a result or an Implementation names (the whole interface: "uds-conformance/adapter"). */
export type { DriverAdapter, Transport, SocketFeature, SocketSupport, HelloAnswer, MkfdFields, RecvAnswer, ControlMessage, Ucred, FdStat } from './driver/protocol.js';
/** The plan's unit (runSuite's onPlan), a pairing filter (excludePairings) and a shard (`--shard i/n`). */
export type { Unit, PairingPattern } from './plan/plan.js';
export type { Shard } from './plan/shard.js';
/** What runSuite's onAdmission hears: each decision of the adaptive runner. */
export type { AdmissionDecision } from './plan/admission.js';
/** What a budgeted run records (`RunReport.budget`, `run --budget`). */
export type { BudgetRecord } from './plan/budget.js';
/** An fd the in-process leak check found open after a case (evidence.details.leakedFds). */
export type { LeakedFd } from './harness/fd-leaks.js';

// Reports.
/** results.json as an object (docs/results.md): what runSuite resolves with. */
export type { RunReport, ImplementationEntry, PropertyEntry } from './report/results.js';
/** One pairing's throughput and latency (`perf: true`). */
export type { PerfEntry } from './measure/perf.js';
/**
 * The report writers: every format into one directory, atomically (writeReports), or one at a time:
 * results.json (writeResults, docs/results.md), JUnit XML, summary.md, the HTML page.
 */
export { writeReports, REPORT_FORMATS, exitCodeFor, type WrittenReports } from './report/write.js';
export { writeResults, SCHEMA_VERSION } from './report/results.js';
export { renderJUnit } from './report/junit.js';
export { renderMarkdown } from './report/markdown.js';
export { renderHtml } from './report/html.js';
/** Reads and checks a results.json (any schema version the suite reads), as `merge` and `compare` do. */
export { loadReport, ReportInputError } from './report/merge.js';
