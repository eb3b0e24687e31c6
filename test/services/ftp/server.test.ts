import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { lstat, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { FtpClient } from '../../../src/services/ftp/client.js';
import { coalescedVerify } from '../../../src/services/ftp/server.js';
import { parseEpsvReply, parsePasvReply } from '../../../src/services/ftp/protocol/addresses.js';
import { RawControl, randomFile, readAll, selfSignedCertificate, sha256, sha256File, startTestFtp, stopTestFtps, tempDir, type TestFtpServer } from './support.js';

afterEach(async () => {
  await stopTestFtps();
});

async function client(server: TestFtpServer, user = 'alice', password = 'secret'): Promise<FtpClient> {
  const c = await FtpClient.connect({ port: server.port });
  await c.login(user, password);
  return c;
}

async function uploadBuffer(c: FtpClient, name: string, data: Buffer): Promise<void> {
  await c.upload(Readable.from([data]), name);
}

async function downloadBuffer(c: FtpClient, name: string, offset?: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on('data', (chunk: Buffer) => chunks.push(chunk));
  await c.download(name, sink, offset !== undefined ? { offset } : {});
  return Buffer.concat(chunks);
}

async function usage(server: TestFtpServer, name = 'alice'): Promise<number> {
  return (await server.store.quota.usage(name)).bytesUsed;
}

describe('ftp server: sessions and files', () => {
  it('logs in, makes folders, uploads and downloads byte for byte (## inside, empty files), lists them', async () => {
    const server = await startTestFtp();
    const c = await client(server);
    expect(await c.pwd()).toBe('/');
    await c.mkdir('docs');
    await c.cd('docs');
    expect(await c.pwd()).toBe('/docs');
    const marker = Buffer.concat([Buffer.from('line one\n##\n'), Buffer.from([0, 255, 0x23, 0x23]), Buffer.from('\r\n##')]);
    await uploadBuffer(c, 'marker.bin', marker);
    await uploadBuffer(c, 'empty', Buffer.alloc(0));
    expect(sha256(await downloadBuffer(c, 'marker.bin'))).toBe(sha256(marker));
    expect((await downloadBuffer(c, 'empty')).length).toBe(0);
    expect(await c.size('marker.bin')).toBe(marker.length);
    const entries = await c.list();
    expect(entries.map((e) => [e.name, e.type, e.size])).toEqual([
      ['empty', 'file', 0],
      ['marker.bin', 'file', marker.length],
    ]);
    expect(await c.names()).toEqual(['empty', 'marker.bin']);
    expect(await c.listText('/')).toMatch(/^drwxr-xr-x 2 alice +ftp +4096 \w{3} [ \d]\d \d\d:\d\d docs\r\n$/);
    await c.send('CDUP');
    expect(await c.pwd()).toBe('/');
    expect((await readFile(join(server.home('alice'), 'docs', 'marker.bin'))).equals(marker)).toBe(true);
    expect(await usage(server)).toBe(marker.length);
    await c.quit();
  });

  it('renames, deletes and removes folders, giving quota back', async () => {
    const server = await startTestFtp();
    const c = await client(server);
    await uploadBuffer(c, 'a.txt', Buffer.from('hello'));
    await uploadBuffer(c, 'b.txt', Buffer.from('hello world'));
    await c.rename('a.txt', 'c.txt');
    expect(await c.names()).toEqual(['b.txt', 'c.txt']);
    // Renaming over an existing file frees the replaced file's bytes.
    await c.rename('c.txt', 'b.txt');
    expect(await usage(server)).toBe(5);
    await c.mkdir('d');
    await c.rename('b.txt', 'd/b.txt');
    expect((await c.send('RMD d')).code).toBe(550);
    await c.delete('d/b.txt');
    expect(await usage(server)).toBe(0);
    await c.rmdir('d');
    expect(await c.names()).toEqual([]);
    expect((await c.send('DELE nothing')).code).toBe(550);
    expect((await c.send('RNTO x')).code).toBe(503);
    await c.quit();
  });

  it('answers SIZE, MDTM, MFMT, MLST, STAT, FEAT, HELP, SYST, TYPE, MODE, STRU, ALLO, OPTS', async () => {
    const server = await startTestFtp();
    const c = await client(server);
    await uploadBuffer(c, 'f.txt', Buffer.from('a\nb\n'));
    expect((await c.send('MFMT 20200102030405 f.txt')).lines[0]).toBe('Modify=20200102030405; /f.txt');
    expect((await c.send('MDTM f.txt')).lines[0]).toBe('20200102030405');
    const mlst = await c.send('MLST f.txt');
    expect(mlst.code).toBe(250);
    expect(mlst.lines[1]).toMatch(/^ ?type=file;size=4;modify=20200102030405;perm=adfrw;unique=[0-9a-f]+g[0-9a-f]+;UNIX\.mode=0644; \/f\.txt$/);
    expect((await c.send('OPTS MLST type;size;')).lines[0]).toBe('MLST OPTS type;size;');
    expect((await c.send('MLST f.txt')).lines[1]).toMatch(/type=file;size=4; \/f\.txt$/);
    expect((await c.send('STAT f.txt')).lines[1]).toMatch(/ 4 Jan {2}2 {2}2020 f\.txt$/);
    expect((await c.send('STAT')).code).toBe(211);
    const feat = await c.send('FEAT');
    expect(feat.code).toBe(211);
    expect(feat.lines).toContain('REST STREAM');
    expect(feat.lines).not.toContain('AUTH TLS');
    expect((await c.send('HELP')).code).toBe(214);
    expect((await c.send('HELP RETR')).lines[0]).toMatch(/^Syntax: RETR/);
    expect((await c.send('SYST')).lines[0]).toBe('UNIX Type: L8');
    expect((await c.send('TYPE E')).code).toBe(504);
    expect((await c.send('TYPE X')).code).toBe(501);
    expect((await c.send('MODE B')).code).toBe(504);
    expect((await c.send('MODE S')).code).toBe(200);
    expect((await c.send('STRU R')).code).toBe(504);
    expect((await c.send('STRU F')).code).toBe(200);
    expect((await c.send('OPTS UTF8 ON')).code).toBe(200);
    expect((await c.send('ALLO 1000')).code).toBe(200);
    expect((await c.send('ALLO 99999999999999')).code).toBe(552);
    expect((await c.send('SIZE nope')).code).toBe(550);
    expect((await c.send('SIZE /')).code).toBe(550);
    expect((await c.send('NOOP')).code).toBe(200);
    expect((await c.send('XPWD')).lines[0]).toBe('"/" is the current directory.');
    await c.quit();
  });

  it('converts line ends in ASCII mode both ways, and SIZE counts the converted bytes', async () => {
    const server = await startTestFtp();
    const raw = await RawControl.open(server.port);
    await raw.login();
    expect((await raw.cmd('TYPE A')).code).toBe(200);
    let data = await raw.passive();
    expect((await raw.cmd('STOR text.txt')).code).toBe(150);
    data.end('one\r\ntwo\r\nthree\rfour\r\n');
    expect((await raw.next())?.code).toBe(226);
    expect(await readFile(join(server.home('alice'), 'text.txt'), 'utf8')).toBe('one\ntwo\nthree\rfour\n');
    expect((await raw.cmd('SIZE text.txt')).lines[0]).toBe('22');
    data = await raw.passive();
    const received = readAll(data);
    expect((await raw.cmd('RETR text.txt')).code).toBe(150);
    expect((await received).toString()).toBe('one\r\ntwo\r\nthree\rfour\r\n');
    expect((await raw.next())?.code).toBe(226);
    expect((await raw.cmd('TYPE I')).code).toBe(200);
    expect((await raw.cmd('SIZE text.txt')).lines[0]).toBe('19');
    raw.close();
  });

  it('expands wildcards in NLST and LIST (mget *.txt)', async () => {
    const server = await startTestFtp();
    const c = await client(server);
    for (const name of ['a.txt', 'b.txt', 'c.pdf']) await uploadBuffer(c, name, Buffer.from(name));
    expect(await c.names('*.txt')).toEqual(['a.txt', 'b.txt']);
    expect((await c.listText('/*.pdf')).trim()).toMatch(/ c\.pdf$/);
    await expect(c.names('*.doc')).rejects.toThrow(/550/);
    await c.quit();
  });

  it('stores under a unique name with STOU', async () => {
    const server = await startTestFtp();
    const raw = await RawControl.open(server.port);
    await raw.login();
    for (const expected of ['report', 'report.1']) {
      const data = await raw.passive();
      const reply = await raw.cmd('STOU report');
      expect(reply).toEqual({ code: 150, lines: [`FILE: ${expected}`] });
      data.end('x');
      expect((await raw.next())?.lines[0]).toBe(`Transfer complete; stored as ${expected}.`);
    }
    raw.close();
  });

  it('writes an xferlog line per transfer', async () => {
    const server = await startTestFtp();
    const c = await client(server);
    await uploadBuffer(c, 'log me.txt', Buffer.from('12345'));
    await downloadBuffer(c, 'log me.txt');
    await c.quit();
    const log = await readFile(join(server.dataDir, 'logs', 'ftp-xferlog'), 'utf8');
    const lines = log.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} \d+ 127\.0\.0\.1 5 \/log_me\.txt b _ i r alice ftp 0 \* c$/);
    expect(lines[1]).toMatch(/ 5 \/log_me\.txt b _ o r alice ftp 0 \* c$/);
  });
});

describe('ftp server: bad input', () => {
  it('refuses every command that needs a login before one, and still takes USER, FEAT, HELP, SYST, QUIT', async () => {
    const server = await startTestFtp();
    const raw = await RawControl.open(server.port);
    expect((await raw.next())?.code).toBe(220);
    for (const command of ['PWD', 'CWD /', 'LIST', 'NLST', 'MLSD', 'RETR x', 'STOR x', 'APPE x', 'DELE x', 'MKD x', 'RMD x', 'RNFR x', 'SIZE x', 'MDTM x', 'PASV', 'EPSV', 'PORT 127,0,0,1,4,1', 'REST 0', 'STAT /', 'SITE QUOTA']) {
      expect((await raw.cmd(command)).code, command).toBe(530);
    }
    expect((await raw.cmd('FEAT')).code).toBe(211);
    expect((await raw.cmd('SYST')).code).toBe(215);
    expect((await raw.cmd('HELP')).code).toBe(214);
    expect((await raw.cmd('PASS x')).code).toBe(503);
    expect((await raw.cmd('QUIT')).code).toBe(221);
    raw.close();
  });

  it('answers a command over 4 KiB with 500 and carries on', async () => {
    const server = await startTestFtp();
    const raw = await RawControl.open(server.port);
    await raw.login();
    raw.write(`RETR ${'a'.repeat(5000)}\r\n`);
    expect((await raw.next())?.code).toBe(500);
    // A line of many megabytes without a newline is skipped without being held.
    raw.write(Buffer.alloc(3 * 1024 * 1024, 0x41));
    raw.write('\r\n');
    expect((await raw.next())?.lines[0]).toMatch(/too long/);
    expect((await raw.cmd('PWD')).code).toBe(257);
    raw.close();
  });

  it('survives binary garbage, answering each line, and closes after too many bad commands', async () => {
    const server = await startTestFtp({ maxBadCommands: 10 });
    const raw = await RawControl.open(server.port);
    expect((await raw.next())?.code).toBe(220);
    raw.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x0a]));
    expect([500, 501]).toContain((await raw.next())?.code);
    const codes: number[] = [];
    for (let i = 0; i < 9; i++) {
      raw.write(Buffer.concat([Buffer.from([0xc3, 0x28, 0xff, 0xfe, i]), Buffer.from('\r\n')]));
    }
    for (let reply = await raw.next(); reply; reply = await raw.next()) codes.push(reply.code);
    expect(codes.at(-1)).toBe(421);
    expect(raw.closed).toBe(true);
  });

  it('keeps RETR ../../etc/passwd and its encodings inside the home', async () => {
    const server = await startTestFtp();
    const raw = await RawControl.open(server.port);
    await raw.login();
    const attempts = [
      '../../etc/passwd',
      '/../../../etc/passwd',
      '../../../../../../../../etc/passwd',
      'a/../../etc/passwd',
      '%2e%2e/%2e%2e/etc/passwd',
      '..%2f..%2fetc%2fpasswd',
      '%252e%252e/etc/passwd',
      '..\\..\\etc\\passwd',
      '....//....//etc/passwd',
      '/etc/passwd',
      '..',
    ];
    for (const attempt of attempts) {
      const reply = await raw.cmd(`RETR ${attempt}`);
      expect(reply.code, attempt).toBeGreaterThanOrEqual(550);
    }
    // Overlong UTF-8 for "../" and a NUL: refused before any path code sees them.
    raw.write(Buffer.concat([Buffer.from('RETR '), Buffer.from([0xc0, 0xae, 0xc0, 0xae, 0xc0, 0xaf]), Buffer.from('etc/passwd\r\n')]));
    expect((await raw.next())?.code).toBe(501);
    raw.write(Buffer.from('RETR ../etc/passwd\u0000.txt\r\n'));
    expect((await raw.next())?.code).toBe(501);
    expect((await raw.cmd('CWD ..')).code).toBe(550);
    expect((await raw.cmd('CWD ../..')).code).toBe(550);
    expect((await raw.cmd('CDUP')).code).toBe(250);
    expect((await raw.cmd('PWD')).lines[0]).toBe('"/" is the current directory.');
    expect((await raw.cmd('SIZE ../../etc/passwd')).code).toBe(550);
    expect((await raw.cmd('RNFR ../../etc/passwd')).code).toBe(550);
    expect((await raw.cmd('MKD ../escape')).code).toBe(550);
    expect((await raw.cmd('RETR .wharf-partial.x')).code).toBe(553);
    raw.close();
  });

  it('refuses a symlink planted toward / (and lists only links that stay inside)', async () => {
    const server = await startTestFtp();
    const c = await client(server);
    const home = server.home('alice');
    await symlink('/', join(home, 'root'));
    await symlink('/etc/passwd', join(home, 'passwd'));
    await mkdir(join(home, 'real'));
    await writeFile(join(home, 'real', 'inside.txt'), 'inside');
    await symlink(join(home, 'real'), join(home, 'alias'));
    expect((await c.send('CWD root')).code).toBe(550);
    expect((await c.send('CWD root/etc')).code).toBe(550);
    expect((await c.send('SIZE passwd')).code).toBe(550);
    expect((await c.send('SIZE root/etc/passwd')).code).toBe(550);
    expect((await c.send('MLST root')).code).toBe(550);
    expect((await c.send('DELE passwd')).code).toBe(550);
    await expect(downloadBuffer(c, 'passwd')).rejects.toThrow(/550/);
    await expect(downloadBuffer(c, 'root/etc/passwd')).rejects.toThrow(/550/);
    await expect(uploadBuffer(c, 'passwd', Buffer.from('pwned'))).rejects.toThrow(/550/);
    await expect(c.list('root')).rejects.toThrow(/550/);
    expect((await c.list()).map((e) => e.name)).toEqual(['alias', 'real']);
    expect((await downloadBuffer(c, 'alias/inside.txt')).toString()).toBe('inside');
    expect((await readFile('/etc/passwd', 'utf8')).length).toBeGreaterThan(0);
    await c.quit();
  });

  it('disconnects after repeated failed logins, answering each after the store\'s delay', async () => {
    const server = await startTestFtp({}, { throttle: { baseDelayMs: 150, maxDelayMs: 150, maxFailuresPerName: 100, maxFailuresPerIp: 100 } });
    const raw = await RawControl.open(server.port);
    expect((await raw.next())?.code).toBe(220);
    const started = Date.now();
    for (let i = 0; i < 2; i++) {
      await raw.cmd('USER alice');
      expect((await raw.cmd('PASS wrong')).code).toBe(530);
    }
    await raw.cmd('USER alice');
    expect((await raw.cmd('PASS wrong')).code).toBe(530);
    expect((await raw.next())?.code).toBe(421);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3 * 140);
    expect(await raw.next()).toBeUndefined();
  });

  it('locks out an address that keeps failing (the store\'s throttle), even on new connections', async () => {
    const server = await startTestFtp({}, { throttle: { baseDelayMs: 0, maxDelayMs: 0, maxFailuresPerName: 2, lockoutMs: 60_000 } });
    for (let attempt = 0; attempt < 2; attempt++) {
      const raw = await RawControl.open(server.port);
      expect((await raw.next())?.code).toBe(220);
      await raw.cmd('USER alice');
      expect((await raw.cmd('PASS wrong')).code).toBe(530);
      raw.close();
    }
    const raw = await RawControl.open(server.port);
    expect((await raw.next())?.code).toBe(220);
    await raw.cmd('USER alice');
    const reply = await raw.cmd('PASS secret');
    expect(reply.code).toBe(421);
    expect(reply.lines[0]).toMatch(/try again in \d+ s/);
  });

  it('limits connections per address with a polite 421', async () => {
    const server = await startTestFtp({ maxConnectionsPerIp: 2 });
    const a = await RawControl.open(server.port);
    const b = await RawControl.open(server.port);
    expect((await a.next())?.code).toBe(220);
    expect((await b.next())?.code).toBe(220);
    const c = await RawControl.open(server.port);
    expect(await c.next()).toEqual({ code: 421, lines: ['Too many connections from your address; try again later.'] });
    a.close();
    b.close();
  });

  it('closes an idle control connection with 421', async () => {
    const server = await startTestFtp({ idleTimeoutMs: 300 });
    const raw = await RawControl.open(server.port);
    await raw.login();
    const reply = await raw.next(3_000);
    expect(reply?.code).toBe(421);
    expect(reply?.lines[0]).toMatch(/Timeout/);
    expect(await raw.next()).toBeUndefined();
  });

  it('aborts a transfer whose data connection stalls, and a passive port nobody connects to', async () => {
    const server = await startTestFtp({ dataTimeoutMs: 300, connectTimeoutMs: 400 });
    const raw = await RawControl.open(server.port);
    await raw.login();
    const data = await raw.passive();
    expect((await raw.cmd('STOR slow.bin')).code).toBe(150);
    data.write('only a little');
    expect((await raw.next(3_000))?.code).toBe(426);
    // The bytes that came are kept as a partial that SIZE reports.
    expect((await raw.cmd('TYPE I')).code).toBe(200);
    expect((await raw.cmd('SIZE slow.bin')).lines[0]).toBe('13');
    expect((await raw.cmd('EPSV')).code).toBe(229);
    expect((await raw.cmd('RETR nothing-here')).code).toBe(550);
    await raw.cmd('TYPE I');
    await writeFile(join(server.home('alice'), 'x'), 'x');
    const started = Date.now();
    expect((await raw.cmd('RETR x', 3_000)).code).toBe(425);
    expect(Date.now() - started).toBeLessThan(2_000);
    raw.close();
  });
});

describe('ftp server: data connections and bounce attacks', () => {
  it('refuses PORT and EPRT toward another host or a privileged port', async () => {
    const server = await startTestFtp();
    const raw = await RawControl.open(server.port);
    await raw.login();
    expect((await raw.cmd('PORT 10,0,0,1,4,1')).code).toBe(501);
    expect((await raw.cmd('PORT 127,0,0,2,4,1')).code).toBe(501);
    expect((await raw.cmd('PORT 127,0,0,1,0,25')).code).toBe(501);
    expect((await raw.cmd('EPRT |1|192.168.1.1|6000|')).code).toBe(501);
    expect((await raw.cmd('EPRT |2|::1|6000|')).code).toBe(522);
    expect((await raw.cmd('PORT 1,2,3')).code).toBe(501);
    raw.close();
  });

  it('transfers in active mode to the client\'s own address', async () => {
    const server = await startTestFtp();
    await writeFile(join(server.home('alice'), 'active.txt'), 'over an active connection');
    const raw = await RawControl.open(server.port);
    await raw.login();
    const listener = net.createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as net.AddressInfo).port;
    const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
    expect((await raw.cmd(`EPRT |1|127.0.0.1|${port}|`)).code).toBe(200);
    expect((await raw.cmd('RETR active.txt')).code).toBe(150);
    const [socket] = await accepted;
    expect((await readAll(socket)).toString()).toBe('over an active connection');
    expect((await raw.next())?.code).toBe(226);
    listener.close();
    raw.close();
  });

  it('drops a passive data connection from a foreign address and takes the client\'s own', async () => {
    const server = await startTestFtp();
    await writeFile(join(server.home('alice'), 'p.txt'), 'passive');
    const raw = await RawControl.open(server.port);
    await raw.login();
    const reply = await raw.cmd('PASV');
    const port = parsePasvReply(reply.lines[0] ?? '')?.port as number;
    const intruder = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    intruder.on('error', () => {});
    const intruderData = readAll(intruder);
    await once(intruder, 'close');
    const own = net.connect({ port, host: '127.0.0.1' });
    await once(own, 'connect');
    const data = readAll(own);
    expect((await raw.cmd('RETR p.txt')).code).toBe(150);
    expect((await data).toString()).toBe('passive');
    expect((await intruderData).length).toBe(0);
    expect((await raw.next())?.code).toBe(226);
    raw.close();
  });

  it('uses EPSV ALL, and answers PASV in the announced masquerade address', async () => {
    const server = await startTestFtp({ masqueradeAddress: '203.0.113.7' });
    const raw = await RawControl.open(server.port);
    await raw.login();
    expect((await raw.cmd('PASV')).lines[0]).toMatch(/^Entering Passive Mode \(203,0,113,7,\d+,\d+\)\.$/);
    expect((await raw.cmd('EPSV 2')).code).toBe(522);
    expect((await raw.cmd('EPSV ALL')).code).toBe(200);
    expect((await raw.cmd('PASV')).code).toBe(503);
    expect((await raw.cmd('PORT 127,0,0,1,4,1')).code).toBe(503);
    expect(parseEpsvReply((await raw.cmd('EPSV')).lines[0] ?? '')).toBeGreaterThan(0);
    raw.close();
  });

  it('speaks IPv6: EPSV and EPRT over ::1', async (context) => {
    const probe = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.listen(0, '::1', () => probe.close(() => resolve(true)));
    });
    if (!ok) return context.skip('no IPv6 loopback here');
    const server = await startTestFtp({ host: '::1' });
    await writeFile(join(server.home('alice'), 'six.txt'), 'v6');
    const c = await FtpClient.connect({ host: '::1', port: server.port });
    await c.login('alice', 'secret');
    expect((await downloadBuffer(c, 'six.txt')).toString()).toBe('v6');
    expect((await c.send('PASV')).code).toBe(501);
    expect((await c.send('EPSV 1')).code).toBe(522);
    const listener = net.createServer();
    await new Promise<void>((resolve) => listener.listen(0, '::1', resolve));
    const port = (listener.address() as net.AddressInfo).port;
    const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
    expect((await c.send(`EPRT |2|::1|${port}|`)).code).toBe(200);
    expect((await c.send('RETR six.txt')).code).toBe(150);
    const [socket] = await accepted;
    expect((await readAll(socket)).toString()).toBe('v6');
    listener.close();
    await c.quit();
  });
});

describe('ftp server: transfers in progress', () => {
  it('answers STAT and ABOR during a download', async () => {
    const server = await startTestFtp();
    const local = await tempDir();
    const big = join(local, 'big.bin');
    await randomFile(big, 32 * 1024 * 1024);
    const c = await client(server);
    await c.upload(createReadStream(big), 'big.bin');
    const raw = await RawControl.open(server.port);
    await raw.login();
    await raw.cmd('TYPE I');
    const data = await raw.passive();
    data.pause();
    expect((await raw.cmd('RETR big.bin')).code).toBe(150);
    // Other commands wait for the transfer; STAT answers at once.
    raw.write('PWD\r\n');
    const stat = await raw.cmd('STAT');
    expect(stat.code).toBe(213);
    expect(stat.lines[0]).toMatch(/^Status: RETR \/big\.bin, \d+ of 33554432 bytes transferred\.$/);
    expect((await raw.cmd('NOOP')).code).toBe(200);
    raw.write(Buffer.from([0xff, 0xf4, 0xff, 0xf2]));
    expect((await raw.cmd('ABOR')).code).toBe(426);
    expect((await raw.next())?.code).toBe(226);
    expect((await raw.next())?.code).toBe(257);
    expect((await raw.cmd('ABOR')).code).toBe(225);
    data.destroy();
    raw.close();
    await c.quit();
  });

  it('keeps an interrupted upload as a hidden partial that REST+STOR and APPE resume', async () => {
    const server = await startTestFtp();
    const payload = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + (i >> 11)) & 255;
    // A client killed mid-upload: data and control connections vanish together.
    const raw = await RawControl.open(server.port);
    await raw.login();
    await raw.cmd('TYPE I');
    const data = await raw.passive();
    expect((await raw.cmd('STOR resume.bin')).code).toBe(150);
    data.write(payload.subarray(0, 1_000_000));
    await new Promise((r) => setTimeout(r, 200));
    data.destroy();
    raw.socket.destroy();
    const c = await client(server);
    let size: number | undefined;
    for (let i = 0; i < 50 && size !== 1_000_000; i++) {
      size = await c.size('resume.bin');
      if (size !== 1_000_000) await new Promise((r) => setTimeout(r, 50));
    }
    expect(size).toBe(1_000_000);
    // Hidden from listings and not a file yet.
    expect(await c.names()).toEqual([]);
    expect((await c.send('RETR resume.bin')).code).not.toBe(150);
    expect(await usage(server)).toBe(1_000_000);
    // Resume with REST + STOR from a point inside the partial (the server truncates there).
    await c.upload(Readable.from([payload.subarray(900_000, 2_000_000)]), 'resume.bin', { offset: 900_000 });
    expect(sha256(await downloadBuffer(c, 'resume.bin'))).toBe(sha256(payload.subarray(0, 2_000_000)));
    // APPE continues a finished file too (on a copy, published when complete).
    await c.upload(Readable.from([payload.subarray(2_000_000)]), 'resume.bin', { append: true });
    expect(sha256(await downloadBuffer(c, 'resume.bin'))).toBe(sha256(payload));
    expect(await usage(server)).toBe(payload.length);
    expect((await readdir(server.home('alice'))).sort()).toEqual(['resume.bin']);
    // REST past the end is refused.
    expect((await c.send(`REST ${payload.length + 1}`)).code).toBe(350);
    await expect(c.upload(Readable.from([Buffer.from('x')]), 'resume.bin', { offset: payload.length + 1 })).rejects.toThrow(/554/);
    await c.quit();
  });

  it('never lets two uploads of one name mix: the second waits its turn (450), readers see whole versions', async () => {
    const server = await startTestFtp();
    const first = Buffer.alloc(2 * 1024 * 1024, 1);
    const c = await client(server);
    await uploadBuffer(c, 'shared.bin', Buffer.alloc(1000, 9));
    const raw = await RawControl.open(server.port);
    await raw.login();
    await raw.cmd('TYPE I');
    const data = await raw.passive();
    expect((await raw.cmd('STOR shared.bin')).code).toBe(150);
    data.write(first.subarray(0, 1024 * 1024));
    await new Promise((r) => setTimeout(r, 100));
    // Meanwhile: a second upload is refused, and a reader gets the previous complete version.
    await expect(uploadBuffer(c, 'shared.bin', Buffer.alloc(10, 2))).rejects.toThrow(/450/);
    expect((await downloadBuffer(c, 'shared.bin')).equals(Buffer.alloc(1000, 9))).toBe(true);
    data.end(first.subarray(1024 * 1024));
    expect((await raw.next())?.code).toBe(226);
    expect((await downloadBuffer(c, 'shared.bin')).equals(first)).toBe(true);
    expect(await usage(server)).toBe(first.length);
    raw.close();
    await c.quit();
  });

  it('serves one transfer while 300 idle sessions stay open', async () => {
    // The idle sessions log in anonymously: the same session state as a user's, without 300 scrypt
    // verifications (seconds of CPU on a loaded two-core machine).
    const server = await startTestFtp({ maxConnectionsPerIp: 0, anonymous: true });
    const local = await tempDir();
    const big = join(local, 'big.bin');
    await randomFile(big, 16 * 1024 * 1024);
    const idle: RawControl[] = [];
    for (let batch = 0; batch < 300; batch += 50) {
      const opened = await Promise.all(Array.from({ length: 50 }, () => RawControl.open(server.port)));
      await Promise.all(opened.map((r) => r.login('anonymous', 'idle@example.org', 30_000)));
      idle.push(...opened);
    }
    expect(server.service.sessionCount).toBe(300);
    const c = await client(server);
    await c.upload(createReadStream(big), 'big.bin');
    const back = join(local, 'back.bin');
    await c.download('big.bin', createWriteStream(back));
    expect(await sha256File(back)).toBe(await sha256File(big));
    // Every idle session still answers.
    const replies = await Promise.all(idle.map((r) => r.cmd('NOOP')));
    expect(replies.every((r) => r.code === 200)).toBe(true);
    for (const r of idle) r.close();
    await c.quit();
  }, 60_000);
});

describe('ftp server: quotas', () => {
  it('answers 552 past the quota and leaves the account exactly as it was', async () => {
    const server = await startTestFtp({}, { quota: 1024 * 1024 });
    const c = await client(server);
    await uploadBuffer(c, 'small.bin', Buffer.alloc(300_000, 1));
    expect(await usage(server)).toBe(300_000);
    const tooBig = Buffer.alloc(3 * 1024 * 1024, 2);
    await expect(uploadBuffer(c, 'big.bin', tooBig)).rejects.toThrow(/552/);
    expect(await usage(server)).toBe(300_000);
    expect(await readdir(server.home('alice'))).toEqual(['small.bin']);
    // A replacement needs room beside the old version until it is complete; then only it counts.
    await expect(uploadBuffer(c, 'small.bin', Buffer.alloc(900_000, 3))).rejects.toThrow(/552/);
    expect((await readFile(join(server.home('alice'), 'small.bin'))).equals(Buffer.alloc(300_000, 1))).toBe(true);
    await uploadBuffer(c, 'small.bin', Buffer.alloc(700_000, 3));
    expect(await usage(server)).toBe(700_000);
    // Exactly up to the limit fits.
    await uploadBuffer(c, 'fill.bin', Buffer.alloc(1024 * 1024 - 700_000, 4));
    expect(await usage(server)).toBe(1024 * 1024);
    await expect(uploadBuffer(c, 'one-more', Buffer.from('x'))).rejects.toThrow(/552/);
    const quota = await c.quota();
    expect(quota).toEqual({ used: 1024 * 1024, quota: 1024 * 1024, free: 0 });
    await c.delete('fill.bin');
    expect(await usage(server)).toBe(700_000);
    await c.quit();
  });
});

describe('ftp server: accounts', () => {
  it('shares one password check among identical logins in flight together, and only those', async () => {
    let calls = 0;
    const verify = coalescedVerify({
      async verify(name: string, password: string) {
        calls++;
        await new Promise((r) => setTimeout(r, 50));
        return password === 'right' ? { ok: true as const, account: { name, role: 'user' as const, disabled: false, createdAt: new Date(0), quotaBytes: 1, bytesUsed: 0 } } : { ok: false as const, reason: 'bad-credentials' as const, delayMs: 0 };
      },
    });
    const same = await Promise.all(Array.from({ length: 20 }, () => verify('alice', 'right', '127.0.0.1')));
    expect(calls).toBe(1);
    expect(same.every((r) => r.ok)).toBe(true);
    // Another password, another address, or a later login: each is checked on its own.
    const [wrong, elsewhere] = await Promise.all([verify('alice', 'wrong', '127.0.0.1'), verify('alice', 'right', '10.0.0.9')]);
    expect(wrong.ok).toBe(false);
    expect(elsewhere.ok).toBe(true);
    await verify('alice', 'right', '127.0.0.1');
    expect(calls).toBe(4);
  });

  it('logs 40 sessions in at once with the same credentials', async () => {
    const server = await startTestFtp();
    const sessions = await Promise.all(Array.from({ length: 40 }, () => RawControl.open(server.port)));
    await Promise.all(sessions.map((s) => s.login('alice', 'secret', 20_000)));
    expect(server.service.sessionCount).toBe(40);
    for (const s of sessions) s.close();
  });

  it('registers over SITE REGISTER, then logs the new user into an empty home', async () => {
    const server = await startTestFtp();
    const raw = await RawControl.open(server.port);
    expect((await raw.next())?.code).toBe(220);
    expect((await raw.cmd('SITE REGISTER bob pass word with spaces')).code).toBe(200);
    expect((await raw.cmd('SITE REGISTER bob other')).code).toBe(550);
    expect((await raw.cmd('SITE REGISTER ../x y')).code).toBe(501);
    expect((await raw.cmd('SITE REGISTER lonely')).code).toBe(501);
    // Reserved names in any spelling, and another spelling of a taken one (case, NFKC).
    for (const name of ['root', 'admin', 'Anonymous', 'ftp']) expect((await raw.cmd(`SITE REGISTER ${name} pw`)).code).toBe(501);
    for (const name of ['BOB', 'ｂｏｂ']) expect((await raw.cmd(`SITE REGISTER ${name} pw`)).code).toBe(550);
    expect((await raw.cmd('USER bob')).code).toBe(331);
    expect((await raw.cmd('PASS pass word with spaces')).code).toBe(230);
    expect((await raw.cmd('SITE QUOTA')).lines[0]).toBe(`Quota: used=0 quota=${1024 ** 3} free=${1024 ** 3}`);
    expect(existsSync(server.home('bob'))).toBe(true);
    raw.close();
  });

  it('refuses SITE REGISTER when self-registration is off', async () => {
    const server = await startTestFtp({}, { selfRegistration: false });
    const raw = await RawControl.open(server.port);
    expect((await raw.next())?.code).toBe(220);
    const reply = await raw.cmd('SITE REGISTER carol pw');
    expect(reply.code).toBe(550);
    expect(reply.lines[0]).toMatch(/turned off/);
    raw.close();
  });

  it('keeps anonymous access off by default, and read-only in <root>/public when on', async () => {
    const closed = await startTestFtp();
    const raw = await RawControl.open(closed.port);
    expect((await raw.next())?.code).toBe(220);
    expect((await raw.cmd('USER anonymous')).code).toBe(331);
    expect((await raw.cmd('PASS me@example.org')).code).toBe(530);
    raw.close();

    const open = await startTestFtp({ anonymous: true });
    await writeFile(join(open.service.root, 'public', 'readme.txt'), 'welcome');
    const c = await client(open, 'anonymous', 'guest@example.org');
    expect((await downloadBuffer(c, 'readme.txt')).toString()).toBe('welcome');
    await expect(uploadBuffer(c, 'x.txt', Buffer.from('no'))).rejects.toThrow(/550/);
    for (const command of ['MKD d', 'DELE readme.txt', 'RNFR readme.txt', 'SITE CHMOD 777 readme.txt']) expect((await c.send(command)).code, command).toBe(550);
    expect((await c.send('RETR ../users/alice/x')).code).toBe(550);
    await c.quit();
  });

  it('REIN logs out and keeps the connection', async () => {
    const server = await startTestFtp();
    const raw = await RawControl.open(server.port);
    await raw.login();
    expect((await raw.cmd('REIN')).code).toBe(220);
    expect((await raw.cmd('PWD')).code).toBe(530);
    raw.close();
  });
});

describe('ftp server: FTPS (RFC 4217)', () => {
  it('secures control and data with AUTH TLS, PBSZ and PROT P', async (context) => {
    const cert = selfSignedCertificate(await tempDir());
    if (!cert) return context.skip('openssl is not installed');
    const server = await startTestFtp({ tlsCert: cert.cert, tlsKey: cert.key });
    const c = await FtpClient.connect({ port: server.port, secure: 'explicit', tlsOptions: { rejectUnauthorized: false } });
    expect(c.secure).toBe(true);
    await c.login('alice', 'secret');
    const data = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = i % 251;
    await uploadBuffer(c, 'secret.bin', data);
    expect(sha256(await downloadBuffer(c, 'secret.bin'))).toBe(sha256(data));
    expect((await c.list()).map((e) => e.name)).toEqual(['secret.bin']);
    expect((await c.send('FEAT')).lines).toContain('AUTH TLS');
    expect((await c.send('PROT S')).code).toBe(536);
    await c.quit();
  });

  it('with requireTls, refuses plain logins, plain data and PROT C', async (context) => {
    const cert = selfSignedCertificate(await tempDir());
    if (!cert) return context.skip('openssl is not installed');
    const server = await startTestFtp({ tlsCert: cert.cert, tlsKey: cert.key, requireTls: true });
    const raw = await RawControl.open(server.port);
    expect((await raw.next())?.code).toBe(220);
    expect((await raw.cmd('USER alice')).code).toBe(530);
    expect((await raw.cmd('PBSZ 0')).code).toBe(503);
    raw.close();
    const c = await FtpClient.connect({ port: server.port, secure: 'explicit', tlsOptions: { rejectUnauthorized: false } });
    await c.login('alice', 'secret');
    expect((await c.send('PROT C')).code).toBe(536);
    await uploadBuffer(c, 'x', Buffer.from('encrypted'));
    await c.quit();
  });

  it('says AUTH TLS is unavailable without a certificate', async () => {
    const server = await startTestFtp();
    const raw = await RawControl.open(server.port);
    expect((await raw.next())?.code).toBe(220);
    expect((await raw.cmd('AUTH TLS')).code).toBe(502);
    expect((await raw.cmd('PBSZ 0')).code).toBe(503);
    raw.close();
  });
});

describe('ftp server: shutdown', () => {
  it('says 421 to idle sessions and lets a transfer finish first', async () => {
    const server = await startTestFtp();
    const idle = await RawControl.open(server.port);
    await idle.login();
    const busy = await RawControl.open(server.port);
    await busy.login();
    await busy.cmd('TYPE I');
    const data = await busy.passive();
    expect((await busy.cmd('STOR late.bin')).code).toBe(150);
    data.write('part one, ');
    const stopping = server.service.stop(3_000);
    expect((await idle.next())?.code).toBe(421);
    data.end('part two');
    expect((await busy.next())?.code).toBe(226);
    expect((await busy.next())?.code).toBe(421);
    await stopping;
    expect(await readFile(join(server.home('alice'), 'late.bin'), 'utf8')).toBe('part one, part two');
    expect((await lstat(join(server.home('alice'), 'late.bin'))).isFile()).toBe(true);
  });
});
