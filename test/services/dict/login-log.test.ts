import { afterEach, describe, expect, it } from 'vitest';
import { capturingLogger } from '../../helpers/logs.js';
import { encodeSaslPlain } from '../../../src/services/dict/protocol.js';
import { loginFailureLine } from '../../../src/store/index.js';
import { RawDict, startDict, tempStore, type StartedDict } from './support.js';

/** A failed login is one WARN line that names the service, the name and the address (for fail2ban), once. */
let started: StartedDict | undefined;
afterEach(async () => {
  await started?.stop();
  started = undefined;
});


describe('failed logins in the log', () => {
  it('says in one line why a login was refused, and cuts a long name', () => {
    expect(loginFailureLine('alice', '192.0.2.7', { ok: false, reason: 'bad-credentials', delayMs: 0 })).toBe('alice 192.0.2.7 login failed: wrong name or password');
    expect(loginFailureLine('alice', '192.0.2.7', { ok: false, reason: 'bad-credentials', delayMs: 0, retryAfterMs: 60_500 })).toBe('alice 192.0.2.7 login failed: wrong name or password; locked out for 61 s');
    expect(loginFailureLine('bob', '::1', { ok: false, reason: 'throttled', delayMs: 0 })).toBe('bob ::1 login refused: too many failed logins');
    expect(loginFailureLine('x'.repeat(500), '::1', { ok: false, reason: 'disabled', delayMs: 0 })).toBe(`${'x'.repeat(64)} ::1 login failed: the account is disabled`);
  });

  it('dict logs a wrong password once, at WARN', async () => {
    const { logger, events } = capturingLogger('debug');
    const store = await tempStore();
    await store.accounts.add('alice', 'right-password');
    started = await startDict({}, { store, logger });
    const dict = await RawDict.connect(started.port);
    expect((await dict.send(`SASLAUTH PLAIN ${encodeSaslPlain('alice', 'wrong')}`)).final.code).toBe(531);
    const failures = events.filter((event) => event.msg.includes('login'));
    expect(failures.map((event) => [event.level, event.msg])).toEqual([[40, 'alice 127.0.0.1 login failed: wrong name or password']]);
    dict.end();
    await store.close();
  });
});
