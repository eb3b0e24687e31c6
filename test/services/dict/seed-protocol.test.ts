import { describe, expect, it } from 'vitest';
import { fitSeedAnswer, parseSeedCommand, seedHistoryRecord, seedMeaning } from '../../../src/services/dict/seed-protocol.js';

describe("the seed dictionary's messages (seed 000 §11)", () => {
  it('parses R, L, Q, H and E as the seed client sends them', () => {
    expect(parseSeedCommand('R alice pw')).toEqual({ kind: 'register', name: 'alice', password: 'pw' });
    expect(parseSeedCommand('L alice pw')).toEqual({ kind: 'login', name: 'alice', password: 'pw' });
    expect(parseSeedCommand('Q alice café')).toEqual({ kind: 'query', name: 'alice', word: 'café' });
    expect(parseSeedCommand('Q alice ice cream')).toEqual({ kind: 'query', name: 'alice', word: 'ice cream' });
    expect(parseSeedCommand('H alice')).toEqual({ kind: 'history', name: 'alice' });
    expect(parseSeedCommand('E')).toEqual({ kind: 'exit' });
    expect(parseSeedCommand('')).toEqual({ kind: 'empty' });
  });

  it('calls malformed and unknown messages bad (the seed server crashed on them)', () => {
    for (const bad of ['R alice', 'R alice pw extra', 'L  pw', 'Q alice', 'Q alice  ', 'H', 'H a b', 'DEFINE * cat', 'r alice pw']) {
      expect(parseSeedCommand(bad), bad).toEqual({ kind: 'bad' });
    }
  });

  it("formats a history record as the seed's \"%s    %s   %s\" with a MySQL DATETIME", () => {
    expect(seedHistoryRecord('alice', 'hello', new Date(2024, 4, 1, 9, 3, 7))).toBe('alice    hello   2024-05-01 09:03:07');
  });

  it("keeps every answer within the client's recv(1024), cut at a character boundary", () => {
    const long = '词'.repeat(400); // 1200 bytes
    const fitted = fitSeedAnswer(long);
    expect(Buffer.byteLength(fitted)).toBeLessThanOrEqual(1024);
    expect(fitted.endsWith('…')).toBe(true);
    expect(Buffer.from(fitted).toString('utf8')).toBe(fitted);
    expect(fitSeedAnswer('short')).toBe('short');
  });

  it('takes the meaning out of an entry: no headword line, no common indentation', () => {
    expect(seedMeaning('abandon\n    v. go away from, leaving behind\n')).toBe('v. go away from, leaving behind');
    expect(seedMeaning('dog\n     n 1: a member of the genus Canis\n          [syn: {domestic dog}]\n')).toBe('n 1: a member of the genus Canis\n     [syn: {domestic dog}]');
  });
});
