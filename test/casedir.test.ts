/**
 * Case dirs (issue 11, items 4 and 5): whatever a subject makes in its case dir goes with the case
 * (a tree deeper than PATH_MAX, mode-000 dirs, newlines and invalid UTF-8 in names, symlinks, never
 * followed out), what cannot go (an immutable file) is reported once and never thrown, and the next
 * run sweeps the dirs of runs whose process is gone, judged by the owner file, never by the name.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  markOwned,
  OWNER_FILE,
  ownerGone,
  processStat,
  readOwner,
  removeCaseDir,
  removeTreeSync,
  selfOwner,
  setUnremovableSink,
  sweepStaleCaseDirs,
} from '../suite/harness/casedir.js';
import { CaseContext } from '../suite/harness/context.js';
import { distPath } from '../suite/harness/paths.js';
import { leftoversOf } from './support/leftovers.js';

afterEach(() => {
  expect(leftoversOf(process.pid)).toEqual({ dirs: [], sockets: [], processes: [] });
});

/** 100 levels of a 50-byte name: about 5100 bytes of path, past PATH_MAX (4096). */
const DEEP_LEVELS = 100;
const LONG_NAME = 'd'.repeat(50);

/**
 * What a hostile subject leaves in its cwd: a deep tree (made by relative steps, as only a process in
 * it can), mode-000 dirs with files in them (one at the bottom of the deep tree), names with a newline
 * and with invalid UTF-8, and a symlink to a dir outside. Run by /bin/sh, as a subject would.
 */
function subjectScript(outside: string): string {
  return [
    'set -e',
    `ln -s '${outside}' out-link`,
    `ln -s '${outside}/keep' file-link`,
    "mkdir -p locked/inner && touch locked/inner/f locked/g && chmod 000 locked/inner locked",
    `touch "$(printf 'new\\nline')" "$(printf 'bad\\377utf8')"`,
    `mkdir "$(printf 'dir\\nwith\\377')" && touch "$(printf 'dir\\nwith\\377')/x"`,
    `i=0; while [ $i -lt ${DEEP_LEVELS} ]; do mkdir ${LONG_NAME}; cd -P ${LONG_NAME}; i=$((i+1)); done`,
    `ln -s '${outside}' deep-link; mkdir bottom; touch bottom/f; chmod 000 bottom`,
  ].join('\n');
}

function makeOutside(): string {
  const outside = mkdtempSync(join(os.tmpdir(), 'casedir-test-outside-'));
  writeFileSync(join(outside, 'keep'), 'untouched\n');
  return outside;
}

function expectOutsideUntouched(outside: string): void {
  expect(readdirSync(outside)).toEqual(['keep']);
  expect(readFileSync(join(outside, 'keep'), 'utf8')).toBe('untouched\n');
}

describe('a case dir goes with its case, whatever the subject made in it', () => {
  it('fs.rm alone cannot remove a tree deeper than PATH_MAX (why the fallback exists)', () => {
    const outside = makeOutside();
    const dir = mkdtempSync(join(os.tmpdir(), 'casedir-test-deep-'));
    try {
      const made = spawnSync('/bin/sh', ['-c', subjectScript(outside)], { cwd: dir });
      expect(made.status, String(made.stderr)).toBe(0);
      expect(() => rmSync(dir, { recursive: true, force: true })).toThrow(/ENAMETOOLONG/);
      expect(removeTreeSync(dir)).toBeUndefined();
      expect(existsSync(dir)).toBe(false);
      expectOutsideUntouched(outside);
    } finally {
      spawnSync('rm', ['-rf', '--one-file-system', '--', dir]);
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('a deep tree, mode-000 dirs, odd names and symlinks made by a subject are removed with the case; no link is followed', async () => {
    const outside = makeOutside();
    const lines: string[] = [];
    const previous = setUnremovableSink((l) => void lines.push(l));
    let caseDir = '';
    let payloadDir = '';
    try {
      await CaseContext.with({}, 20_000, async (ctx) => {
        caseDir = ctx.dir;
        payloadDir = (await ctx.writePayloadFile(new Uint8Array([1, 2, 3]))).replace(/\/[^/]+$/, '');
        // The subject has its cwd in the case dir, as every role does.
        const made = await execa('/bin/sh', ['-c', subjectScript(outside)], { cwd: ctx.dir, reject: false });
        expect(made.exitCode, made.stderr).toBe(0);
        expect(existsSync(join(ctx.dir, OWNER_FILE))).toBe(true);
        expect(existsSync(join(payloadDir, OWNER_FILE))).toBe(true);
      });
      expect(lines).toEqual([]);
      expect(existsSync(caseDir)).toBe(false);
      expect(existsSync(payloadDir)).toBe(false);
      expectOutsideUntouched(outside);
    } finally {
      setUnremovableSink(previous);
      if (caseDir) spawnSync('rm', ['-rf', '--one-file-system', '--', caseDir]);
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('a harness that is not root removes mode-000 dirs and deep trees its subject made (chmod, then rm)', async () => {
    // The tests run as root here, who needs no permission bits: run the removal as nobody, on a tree
    // nobody made. Without the chmod step, rm -rf as nobody stops at the first mode-000 dir (EACCES).
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const outside = makeOutside();
    const root = mkdtempSync(join(os.tmpdir(), 'casedir-test-nobody-'));
    try {
      // As in /tmp, the case dir's parent is writable by the harness's user.
      if (asNobody.uid !== undefined) spawnSync('chown', ['65534:65534', root]);
      const dir = join(root, 'case');
      await execa('mkdir', [dir], asNobody);
      const made = await execa('/bin/sh', ['-c', subjectScript(outside)], { cwd: dir, reject: false, ...asNobody });
      expect(made.exitCode, made.stderr).toBe(0);
      const casedir = distPath('suite/harness/casedir.js');
      const removal = await execa(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(casedir)}); process.stdout.write(JSON.stringify((await m.removeTree(process.argv[1])) ?? null));`, dir], {
        reject: false,
        ...asNobody,
      });
      expect(removal.stderr).toBe('');
      expect(JSON.parse(removal.stdout)).toBeNull();
      expect(existsSync(dir)).toBe(false);
      expectOutsideUntouched(outside);
    } finally {
      spawnSync('rm', ['-rf', '--one-file-system', '--', root]);
      rmSync(outside, { recursive: true, force: true });
    }
  });

  const chattrWorks = ((): boolean => {
    if (process.getuid?.() !== 0) return false;
    const probe = mkdtempSync(join(os.tmpdir(), 'casedir-test-chattr-'));
    try {
      writeFileSync(join(probe, 'f'), '');
      const ok = spawnSync('chattr', ['+i', join(probe, 'f')]).status === 0;
      spawnSync('chattr', ['-i', join(probe, 'f')]);
      return ok;
    } finally {
      rmSync(probe, { recursive: true, force: true });
    }
  })();

  it.runIf(chattrWorks)('an immutable file (chattr +i) is reported once with its path, never thrown; the case keeps its outcome', async () => {
    const lines: string[] = [];
    const previous = setUnremovableSink((l) => void lines.push(l));
    let caseDir = '';
    try {
      const outcome = await CaseContext.with({}, 20_000, async (ctx) => {
        caseDir = ctx.dir;
        mkdirSync(join(ctx.dir, 'sub'));
        writeFileSync(join(ctx.dir, 'sub', 'pinned'), 'x');
        expect(spawnSync('chattr', ['+i', join(ctx.dir, 'sub', 'pinned')]).status).toBe(0);
        return 'the case passed';
      });
      expect(outcome).toBe('the case passed');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`uds-conformance: could not remove ${caseDir}: `);
      expect(lines[0]).toMatch(/sub\/pinned.*Operation not permitted/);
      expect(lines[0]!.trimEnd().split('\n')).toHaveLength(1);
      // Once per path: another attempt says nothing more.
      await removeCaseDir(caseDir);
      expect(lines).toHaveLength(1);
      // Everything else in it went; the owner file is back, so a later run can still sweep it.
      expect(readdirSync(caseDir).sort()).toEqual([OWNER_FILE, 'sub']);
    } finally {
      setUnremovableSink(previous);
      if (caseDir) {
        spawnSync('chattr', ['-i', join(caseDir, 'sub', 'pinned')]);
        rmSync(caseDir, { recursive: true, force: true });
      }
    }
  });
});

describe('the sweep of runs that are gone', () => {
  // A private TMPDIR (os.tmpdir() reads it on every call): the CLI runs of other test files sweep the
  // shared /tmp at their start, and would remove this test's planted dirs of dead owners while it
  // still builds them.
  let privateTmp = '';
  let previousTmp: string | undefined;
  beforeAll(() => {
    previousTmp = process.env.TMPDIR;
    privateTmp = mkdtempSync(join(os.tmpdir(), 'casedir-test-tmp-'));
    process.env.TMPDIR = privateTmp;
  });
  afterAll(() => {
    if (previousTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previousTmp;
    spawnSync('rm', ['-rf', '--one-file-system', '--', privateTmp]);
  });

  /** A pid that is no longer running (a child that has exited and been reaped). */
  async function deadPid(): Promise<number> {
    const child = execa('true');
    await child;
    return child.pid!;
  }

  function ownedDir(pid: number, owner: Parameters<typeof markOwned>[1] | undefined): string {
    const dir = mkdtempSync(join(os.tmpdir(), `udsc-${pid}-`));
    if (owner) markOwned(dir, owner);
    return dir;
  }

  it('removes the dirs whose owner is gone (dead pid, reused pid, another boot), and only those', async () => {
    const me = selfOwner();
    expect(me.start).toMatch(/^\d+$/);
    const dead = await deadPid();
    // A live process with another start time: the pid was reused since the owner file was written.
    const parent = process.ppid;
    const parentStart = processStat(parent)!.start;
    const outside = makeOutside();
    const made: string[] = [outside];
    try {
      const gone = ownedDir(dead, { ...me, pid: dead, start: '1' });
      const reused = ownedDir(parent, { ...me, pid: parent, start: String(Number(parentStart) + 1) });
      const otherBoot = ownedDir(parent, { ...me, pid: parent, start: parentStart, boot: '00000000-0000-0000-0000-000000000000' });
      const live = ownedDir(parent, { ...me, pid: parent, start: parentStart });
      const mine = ownedDir(process.pid, me);
      const noOwnerFile = ownedDir(dead, undefined);
      const otherNamespace = ownedDir(dead, { ...me, pid: dead, start: '1', ns: 'pid:[1]' });
      const linkedOwner = ownedDir(dead, undefined);
      const realOwner = mkdtempSync(join(os.tmpdir(), 'casedir-test-owner-'));
      markOwned(realOwner, { ...me, pid: dead, start: '1' });
      symlinkSync(join(realOwner, OWNER_FILE), join(linkedOwner, OWNER_FILE));
      made.push(gone, reused, otherBoot, live, mine, noOwnerFile, otherNamespace, linkedOwner, realOwner);
      // What a killed run leaves: a socket file, and a tree deeper than PATH_MAX (the sync fallback).
      const bound = spawnSync('python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])', join(gone, 'sock')]);
      expect(bound.status, String(bound.stderr)).toBe(0);
      expect(lstatSync(join(gone, 'sock')).isSocket()).toBe(true);
      expect(spawnSync('/bin/sh', ['-c', subjectScript(outside)], { cwd: reused }).status).toBe(0);

      expect(ownerGone(readOwner(gone)!)).toBe(true);
      expect(ownerGone(readOwner(live)!)).toBe(false);
      sweepStaleCaseDirs();
      expect(existsSync(gone)).toBe(false);
      expect(existsSync(reused)).toBe(false);
      expect(existsSync(otherBoot)).toBe(false);
      expect(existsSync(live)).toBe(true);
      expect(existsSync(mine)).toBe(true);
      expect(existsSync(noOwnerFile)).toBe(true);
      expect(existsSync(otherNamespace)).toBe(true);
      expect(existsSync(linkedOwner)).toBe(true);
      expect(readOwner(linkedOwner)).toBeUndefined();
      expect(existsSync(join(realOwner, OWNER_FILE))).toBe(true);
      expectOutsideUntouched(outside);
    } finally {
      for (const dir of made) spawnSync('rm', ['-rf', '--one-file-system', '--', dir]);
    }
  });

  it('a malformed owner file is not an owner: its dir stays', () => {
    const dir = ownedDir(process.pid, undefined);
    try {
      writeFileSync(join(dir, OWNER_FILE), '{"pid": "1"}');
      expect(readOwner(dir)).toBeUndefined();
      sweepStaleCaseDirs();
      expect(existsSync(dir)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
