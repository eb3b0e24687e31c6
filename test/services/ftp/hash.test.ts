import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseHashFeature, parseHashReply, parseRangArgument } from '../../../src/services/ftp/protocol/hash.js';
import { quotaRefusal } from '../../../src/services/ftp/protocol/replies.js';
import { RawControl, bigFile, sha256File, startTestFtp, stopTestFtps } from './support.js';

afterEach(async () => {
  await stopTestFtps();
});

const digest = (algorithm: string, data: Buffer | string) => createHash(algorithm).update(data).digest('hex');

describe('ftp HASH, RANG and ALLO (protocol)', () => {
  it('parses RANG, HASH replies and FEAT HASH lines', () => {
    expect(parseRangArgument('0 49')).toEqual({ ok: true, range: { start: 0, end: 49 } });
    expect(parseRangArgument('1 0')).toEqual({ ok: true, range: 'clear' });
    for (const bad of ['', '5', '9 3', '-1 4', '1 2 3', 'a b', '99999999999999999 1']) expect(parseRangArgument(bad).ok, bad).toBe(false);
    expect(parseHashReply('SHA-256 0-49 ABCdef report.txt')).toEqual({ algorithm: 'SHA-256', range: { start: 0, end: 49 }, hex: 'abcdef', path: 'report.txt' });
    expect(parseHashReply('not a hash')).toBeUndefined();
    expect(parseHashFeature('SHA-1;SHA-256*;MD5')).toEqual({ algorithms: ['SHA-1', 'SHA-256', 'MD5'], selected: 'SHA-256' });
    expect(quotaRefusal(5 * 1024 * 1024, 0, 1024 * 1024)).toBe('5.0 MiB does not fit: 0 B free of 1.0 MiB');
  });

  it('answers HASH with the selected algorithm over the whole file or a RANG range, byte for byte', async () => {
    const server = await startTestFtp({ anonymous: true });
    const data = 'The quick brown fox jumps over the lazy dog, twice.';
    await writeFile(join(server.home('alice'), 'report.txt'), data);
    await mkdir(join(server.home('alice'), 'folder'));
    const raw = await RawControl.open(server.port);
    await raw.login();

    const feat = await raw.cmd('FEAT');
    expect(feat.lines).toContain('HASH SHA-1;SHA-256*;SHA-512;MD5');
    expect(await raw.cmd('HASH report.txt')).toEqual({ code: 213, lines: [`SHA-256 0-50 ${digest('sha256', data)} /report.txt`] });
    expect(await raw.cmd('RANG 4 8')).toEqual({ code: 350, lines: ['Restarting at 4. Ending byte at 8.'] });
    expect(await raw.cmd('HASH report.txt')).toEqual({ code: 213, lines: [`SHA-256 4-8 ${digest('sha256', data.slice(4, 9))} /report.txt`] });
    // The range was for that one HASH; past the end of the file it is cut there.
    expect((await raw.cmd('HASH report.txt')).lines[0]).toMatch(/^SHA-256 0-50 /);
    await raw.cmd('RANG 40 1000');
    expect((await raw.cmd('HASH report.txt')).lines[0]).toBe(`SHA-256 40-50 ${digest('sha256', data.slice(40))} /report.txt`);
    await raw.cmd('RANG 51 60');
    expect((await raw.cmd('HASH report.txt')).code).toBe(550);

    expect(await raw.cmd('OPTS HASH md5')).toEqual({ code: 200, lines: ['MD5'] });
    expect((await raw.cmd('HASH report.txt')).lines[0]).toBe(`MD5 0-50 ${digest('md5', data)} /report.txt`);
    expect((await raw.cmd('FEAT')).lines).toContain('HASH SHA-1;SHA-256;SHA-512;MD5*');
    expect(await raw.cmd('OPTS HASH CRC32')).toEqual({ code: 504, lines: ['Unknown algorithm, current selection not changed.'] });
    expect(await raw.cmd('OPTS HASH')).toEqual({ code: 200, lines: ['MD5'] });

    expect((await raw.cmd('RANG 9 3')).code).toBe(501);
    expect((await raw.cmd('RANG x')).code).toBe(501);
    expect((await raw.cmd('HASH')).code).toBe(501);
    expect((await raw.cmd('HASH nope.txt')).code).toBe(550);
    expect((await raw.cmd('HASH folder')).code).toBe(550);
    // Confined to the home like every path.
    expect((await raw.cmd('HASH ../../../../../../etc/passwd')).code).toBe(550);
    // A range never silently turns a RETR into a whole-file one.
    await raw.cmd('RANG 0 3');
    expect((await raw.cmd('RETR report.txt')).code).toBe(504);
    raw.close();
  });

  it('hashes a large file without stopping other sessions', async () => {
    const server = await startTestFtp();
    const path = join(server.home('alice'), 'big.bin');
    bigFile(path, 64 * 1024 * 1024);
    const expected = await sha256File(path);
    const hasher = await RawControl.open(server.port);
    await hasher.login();
    const other = await RawControl.open(server.port);
    await other.login();
    hasher.write('HASH big.bin\r\n');
    // While 64 MiB are hashed, another session's NOOPs are answered, each well under the hash's time.
    let answered = 0;
    const done = hasher.next(30_000);
    let finished = false;
    void done.then(() => (finished = true));
    while (!finished && answered < 1000) {
      expect((await other.cmd('NOOP', 2_000)).code).toBe(200);
      answered++;
    }
    expect(answered).toBeGreaterThan(1);
    expect((await done)?.lines[0]).toBe(`SHA-256 0-${64 * 1024 * 1024 - 1} ${expected} /big.bin`);
    hasher.close();
    other.close();
  });

  it('refuses an ALLO that does not fit with the sentence a person reads', async () => {
    const server = await startTestFtp({}, { quota: 1024 * 1024 });
    const raw = await RawControl.open(server.port);
    await raw.login();
    expect((await raw.cmd('ALLO 1000')).code).toBe(200);
    expect(await raw.cmd('ALLO 5242880')).toEqual({ code: 552, lines: ['5.0 MiB does not fit: 1.0 MiB free of 1.0 MiB.'] });
    raw.close();
  });
});
