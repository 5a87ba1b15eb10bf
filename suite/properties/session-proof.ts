/**
 * The seed session's own requirements (issue 10, item 1), checked for every property built on
 * session(): the client connected to this server, the server accepted and served it, closed the
 * connection and exited. Apart from session.ts because verify.ts runs sessions (its precondition
 * checks) and session.ts must not import verify.ts back.
 */
import type { OutputCapture } from '../harness/capture.js';
import { exitText } from '../model/format.js';
import type { ProcessSummary } from '../model/types.js';
import { SERVER_GRACE_MS, sides, type SessionOutcome } from './session.js';
import { fail, type EvidenceFields } from './verify.js';

/** The first of the session's requirements that does not hold is the failure, with what the harness saw. */
export function requireSession(outcome: SessionOutcome & { client: ProcessSummary; stdout: OutputCapture }, evidence: EvidenceFields = {}): void {
  const all = { ...sides(outcome), ...evidence, details: { ...evidence.details, connection: outcome.connection?.how, accepted: outcome.accepted?.how } };
  const firstLine = (p: ProcessSummary): string => {
    const line = p.stderr.split('\n').find((l) => l.trim() !== '');
    return line ? `, stderr "${line.slice(0, 200)}"` : '';
  };
  if (outcome.connection && !outcome.connection.connected) {
    const client = `${exitText(outcome.client)}${firstLine(outcome.client)}`;
    if (outcome.stdout.length > 0) {
      fail(
        `the client printed output but never connected to the server (${outcome.stdout.length} bytes; ${outcome.connection.how})`,
        'a connection to the server, then its bytes',
        `no connection; ${outcome.stdout.length} bytes printed, ${client}`,
        all,
      );
    }
    fail(`the client never connected to the server: it ended with ${client}`, 'a connection to the server', `no connection; ${client}`, all);
  }
  if (outcome.quiet) {
    const { quietMs, serverHoldsConnection } = outcome.quiet;
    if (serverHoldsConnection === false) {
      fail(
        `the client had every byte and the server had closed the connection, but neither side exited within ${quietMs} ms`,
        'the client exits at EOF, the server after serving',
        'both still running (killed)',
        all,
      );
    }
    fail(
      'the server sent everything but did not close the connection',
      'the server closes the connection once it has sent everything',
      outcome.quiet.clientHasAll
        ? `nothing happened for ${quietMs} ms after the client had all ${outcome.stdout.length} bytes; both still running (killed)`
        : `the server held the connection and neither side used any CPU for ${quietMs} ms (the client had printed ${outcome.stdout.length} bytes, holding the rest until EOF); both still running (killed)`,
      all,
    );
  }
  if (outcome.accepted && !outcome.accepted.accepted) {
    fail(
      `the server never accepted the client's connection: it ended with ${exitText(outcome.server)}${firstLine(outcome.server)}`,
      'the server accepts the connection and serves it',
      outcome.accepted.how,
      all,
    );
  }
  if (outcome.serverHung) {
    fail('server did not exit after serving', `the server exits within ${SERVER_GRACE_MS} ms of its client`, `still running ${SERVER_GRACE_MS} ms after the client ended (killed)`, all);
  }
}

