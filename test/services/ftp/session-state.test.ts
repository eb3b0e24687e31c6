/** The FTP sequencing rules, without a socket or a file: protocol/session-state.ts. */
import { describe, expect, it } from 'vitest';
import { COMMANDS, type FtpVerb } from '../../../src/services/ftp/protocol/commands.js';
import { FtpSessionState, uploadStart, type Admission } from '../../../src/services/ftp/protocol/session-state.js';

type State = FtpSessionState<string>;

const fresh = (requireTls = false): State => new FtpSessionState<string>({ requireTls });

function loggedIn(account = 'alice'): State {
  const state = fresh();
  state.user(account);
  state.takeUser();
  state.loggedInAs(account);
  return state;
}

/** Admission, reduced to what a test compares: `run VERB`, or the refusal's code. */
function admit(state: State, line: string): string | number {
  const space = line.indexOf(' ');
  const [verb, argument] = space === -1 ? [line, ''] : [line.slice(0, space), line.slice(space + 1)];
  const admission: Admission<string> = state.admit(verb, argument);
  if (admission.kind === 'unknown') return 'unknown';
  if (admission.kind === 'refused') return admission.code;
  return `run ${admission.verb}`;
}

describe('FtpSessionState: admission', () => {
  it('refuses a missing argument with the syntax, and commands that need a login before it', () => {
    const state = fresh();
    expect(state.admit('CWD', ' ')).toEqual({ kind: 'refused', code: 501, message: 'Syntax: CWD <path>.' });
    expect(admit(state, 'RETR a')).toBe(530);
    expect(admit(state, 'NOOP')).toBe('run NOOP');
    expect(admit(state, 'FROB')).toBe('unknown');
    expect(admit(loggedIn(), 'RETR a')).toBe('run RETR');
  });

  it('runs an alias as its verb, with the same needs', () => {
    expect(admit(fresh(), 'XPWD')).toBe(530);
    expect(admit(loggedIn(), 'XPWD')).toBe('run PWD');
    expect(admit(loggedIn(), 'XCWD')).toBe(501);
    expect(admit(loggedIn(), 'XCWD /a')).toBe('run CWD');
  });

  it('lets only ABOR, STAT, NOOP and QUIT run during a transfer; the others wait', () => {
    const state = loggedIn();
    expect(state.waitsForTransfer('RETR')).toBe(false);
    state.transferStarted();
    const running = (Object.keys(COMMANDS) as FtpVerb[]).filter((verb) => !state.waitsForTransfer(verb));
    expect(running.sort()).toEqual(['ABOR', 'NOOP', 'QUIT', 'STAT']);
    expect(state.waitsForTransfer('XPWD')).toBe(true);
    expect(state.waitsForTransfer('FROB')).toBe(true);
    state.transferEnded();
    expect(state.waitsForTransfer('RETR')).toBe(false);
  });

  it('QUIT during a transfer says goodbye when the transfer ends', () => {
    const state = loggedIn();
    expect(state.quit()).toBe('now');
    state.transferStarted();
    expect(state.quit()).toBe('after-transfer');
    expect(state.transferEnded()).toBe('quit');
  });
});

describe('FtpSessionState: login', () => {
  it('takes USER then PASS; PASS alone or twice is out of sequence', () => {
    const state = fresh();
    expect(state.takeUser()).toEqual({ code: 503, message: 'Send USER first.' });
    expect(state.user('alice')).toEqual({ code: 331, message: 'Password required for alice.' });
    expect(state.takeUser()).toEqual({ name: 'alice', anonymous: false });
    // A failed password needs USER again.
    expect(state.takeUser()).toMatchObject({ code: 503 });
    state.user('alice');
    state.takeUser();
    state.loggedInAs('alice');
    expect(state.loggedIn).toBe(true);
    expect(state.account).toBe('alice');
    expect(state.takeUser()).toEqual({ code: 503, message: 'Already logged in.' });
    expect(state.user('bob').code).toBe(530);
  });

  it('knows anonymous names, and keeps the address anonymous gave', () => {
    const state = fresh();
    expect(state.user('FTP').code).toBe(331);
    expect(state.takeUser()).toEqual({ name: 'FTP', anonymous: true });
    state.loggedInAs(undefined, 'me@example.org');
    expect(state.account).toBeUndefined();
    expect(state.anonymousId).toBe('me@example.org');
  });

  it('with requireTls, refuses a named USER before AUTH TLS but not anonymous', () => {
    const state = fresh(true);
    expect(state.user('alice').code).toBe(530);
    expect(state.user('anonymous').code).toBe(331);
    state.secured();
    expect(state.user('alice').code).toBe(331);
  });

  it('AUTH TLS forgets a USER sent before it (RFC 4217 §4)', () => {
    const state = fresh();
    state.user('alice');
    state.secured();
    expect(state.takeUser()).toMatchObject({ code: 503 });
  });

  it('REIN logs out and resets the transfer parameters, but TLS and PROT stay', () => {
    const state = loggedIn();
    state.cwd = '/a';
    state.type = 'binary';
    state.restart('100');
    state.epsvAll();
    state.secured();
    state.pbsz('0');
    state.prot('P');
    state.reinitialize();
    expect(state.loggedIn).toBe(false);
    expect(state.cwd).toBe('/');
    expect(state.type).toBe('ascii');
    expect(state.takeRestart()).toBe(0);
    expect(state.addressRefusal()).toBeUndefined();
    expect(state.secure).toBe(true);
    expect(state.protectData).toBe(true);
  });
});

describe('FtpSessionState: RNFR → RNTO and RANG → HASH hold for the next command only', () => {
  it('gives the RNFR source to the command right after it, and to no later one', () => {
    const state = loggedIn();
    state.renameFromSet('/a');
    expect(state.admit('RNTO', 'b')).toMatchObject({ kind: 'run', verb: 'RNTO', renameFrom: '/a' });
    expect(state.admit('RNTO', 'c')).toMatchObject({ kind: 'run', renameFrom: undefined });
    state.renameFromSet('/a');
    expect(admit(state, 'NOOP')).toBe('run NOOP');
    expect(state.admit('RNTO', 'b')).toMatchObject({ renameFrom: undefined });
  });

  it('keeps the RNFR source over a command refused for its syntax', () => {
    const state = loggedIn();
    state.renameFromSet('/a');
    expect(admit(state, 'RNTO')).toBe(501);
    expect(state.admit('RNTO', 'b')).toMatchObject({ renameFrom: '/a' });
  });

  it('gives a RANG range to HASH, and refuses a transfer after RANG (never the whole file for a part)', () => {
    const state = loggedIn();
    state.rangeSet({ start: 0, end: 9 });
    expect(state.admit('HASH', 'f')).toMatchObject({ kind: 'run', range: { start: 0, end: 9 } });
    expect(state.admit('HASH', 'f')).toMatchObject({ kind: 'run', range: undefined });
    for (const verb of ['RETR', 'STOR', 'APPE', 'STOU']) {
      state.rangeSet({ start: 0, end: 9 });
      expect(admit(state, `${verb} f`)).toBe(504);
      expect(admit(state, `${verb} f`)).toBe(`run ${verb}`);
    }
  });
});

describe('FtpSessionState: REST', () => {
  it('parses the offset, keeps it over other commands, and gives it to one transfer', () => {
    const state = loggedIn();
    expect(state.restart('12x')).toEqual({ code: 501, message: 'Syntax: REST <byte offset>.' });
    expect(state.restart('99999999999999999999').code).toBe(501);
    expect(state.restart(' 100 ')).toEqual({ code: 350, message: 'Restarting at 100. Send STOR or RETR to start the transfer.' });
    expect(admit(state, 'NOOP')).toBe('run NOOP');
    expect(state.takeRestart()).toBe(100);
    expect(state.takeRestart()).toBe(0);
  });
});

describe('uploadStart: where an upload writes its first byte', () => {
  const none = { partial: undefined, file: undefined };
  it('APPE continues the partial of an interrupted upload, else the file, else starts a new one', () => {
    expect(uploadStart('appe', 0, { partial: 10, file: 99 })).toEqual({ kind: 'partial', start: 10 });
    expect(uploadStart('appe', 5, { partial: undefined, file: 99 })).toEqual({ kind: 'copy', start: 99 });
    expect(uploadStart('appe', 0, none)).toEqual({ kind: 'fresh', start: 0 });
  });

  it('STOR without REST starts a new file whatever is there', () => {
    expect(uploadStart('stor', 0, { partial: 10, file: 99 })).toEqual({ kind: 'fresh', start: 0 });
  });

  it('REST then STOR continues the partial, or a copy of the file, if it holds that many bytes; else 554', () => {
    expect(uploadStart('stor', 10, { partial: 10, file: 99 })).toEqual({ kind: 'partial', start: 10 });
    expect(uploadStart('stor', 4, { partial: 10, file: undefined })).toEqual({ kind: 'partial', start: 4 });
    expect(uploadStart('stor', 50, { partial: 10, file: 99 })).toEqual({ kind: 'copy', start: 50 });
    expect(uploadStart('stou', 100, { partial: 10, file: 99 })).toEqual({ code: 554, bytes: 99 });
    expect(uploadStart('stor', 1, none)).toEqual({ code: 554, bytes: 0 });
  });
});

describe('FtpSessionState: AUTH → PBSZ → PROT, and data connections', () => {
  it('needs AUTH TLS before PBSZ and PBSZ before PROT', () => {
    const state = fresh();
    expect(state.authRefusal()).toBeUndefined();
    expect(state.pbsz('0')).toEqual({ code: 503, message: 'PBSZ needs AUTH TLS first.' });
    expect(state.prot('P')).toEqual({ code: 503, message: 'PROT needs AUTH TLS first.' });
    state.secured();
    expect(state.authRefusal()).toEqual({ code: 503, message: 'Already using TLS.' });
    expect(state.prot('P')).toEqual({ code: 503, message: 'PROT needs PBSZ first.' });
    expect(state.pbsz('x').code).toBe(501);
    expect(state.pbsz('0')).toEqual({ code: 200, message: 'PBSZ=0' });
    expect(state.prot('S').code).toBe(536);
    expect(state.prot('Q').code).toBe(504);
    expect(state.prot('p')).toEqual({ code: 200, message: 'Protection level set to Private.' });
    expect(state.protectData).toBe(true);
    expect(state.prot('C').code).toBe(200);
    expect(state.protectData).toBe(false);
  });

  it('with requireTls, refuses PROT C and a data connection before PROT P', () => {
    const state = fresh(true);
    state.secured();
    state.pbsz('0');
    expect(state.prot('C').code).toBe(536);
    expect(state.dataRefusal(true)).toMatchObject({ code: 522 });
    state.prot('P');
    expect(state.dataRefusal(true)).toBeUndefined();
  });

  it('needs a data connection set up, and refuses PORT, EPRT and PASV after EPSV ALL', () => {
    const state = loggedIn();
    expect(state.dataRefusal(false)).toEqual({ code: 425, message: 'Use PORT, PASV, EPRT or EPSV first.' });
    expect(state.dataRefusal(true)).toBeUndefined();
    expect(state.addressRefusal()).toBeUndefined();
    state.epsvAll();
    expect(state.addressRefusal()).toMatchObject({ code: 503 });
  });
});
