/**
 * FTP interop: real clients (curl, Python's ftplib, lftp) against wharf's server, wharf's client
 * against pyftpdlib and vsftpd (the anchors), and the seed's whole flow from the `wharf ftp`
 * command and from curl. Every file transferred is compared by sha256. The tools are installed
 * by .ci/run (curl, python3, lftp, python3-pyftpdlib, vsftpd, openssl); without them a test skips
 * with the reason, except in CI where a missing tool fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FtpClient } from '../../src/services/ftp/client.js';
import { runWharf, startWharf, tempDataDir, type RunningWharf } from '../helpers/cli.js';
import { runTool, skipReason } from '../helpers/tools.js';
import { bigFile, freePortRange, randomFile, selfSignedCertificate, sha256File, startTestFtp, stopTestFtps, tempDir, type TestFtpServer } from '../services/ftp/support.js';

const ANCHORS = process.env.WHARF_ANCHORS ?? '/work/shared/anchors';
/** pyftpdlib is a Debian package for the system Python (start.sh runs /usr/bin/python3). */
const SYSTEM_PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

const curlSkip = skipReason('curl');
const pythonSkip = skipReason('python3');
const lftpSkip = skipReason('lftp');
const opensslSkip = skipReason('openssl');

let server: TestFtpServer;
let secureServer: TestFtpServer | undefined;
let local: string;
let big: string;
let bigSha: string;
const url = (path = '') => `ftp://127.0.0.1:${server.port}/${path}`;
const auth = ['-u', 'alice:secret'];

beforeAll(async () => {
  local = await tempDir();
  server = await startTestFtp({ anonymous: true }, { quota: 2 * 1024 ** 3 });
  big = join(local, 'big ## file.bin');
  // 101 MiB, written in 1 MiB blocks: larger than 100 MiB, never held in memory.
  bigFile(big, 101 * 1024 * 1024 + 12_345);
  bigSha = await sha256File(big);
  if (!opensslSkip) {
    const cert = selfSignedCertificate(local);
    if (cert) secureServer = await startTestFtp({ tlsCert: cert.cert, tlsKey: cert.key });
  }
}, 60_000);

afterAll(async () => {
  await stopTestFtps();
});

async function localFile(name: string, content: Buffer | string): Promise<string> {
  const path = join(local, name);
  await writeFile(path, content);
  return path;
}

/** Wait until an upload into `folder` has reached the server (its working file has `bytes`), then kill `child`. */
async function killMidUpload(child: ChildProcess, folder: string, bytes: number): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < 20_000) {
    const names = existsSync(folder) ? await readdir(folder) : [];
    let received = 0;
    for (const name of names.filter((n) => n.startsWith('.wharf-upload.'))) received = Math.max(received, (await stat(join(folder, name)).catch(() => ({ size: 0 }))).size);
    if (received >= bytes) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.once('close', r));
}

async function expectSameFile(a: string, b: string): Promise<void> {
  expect(await sha256File(a)).toBe(await sha256File(b));
}

describe.skipIf(curlSkip)('curl against wharf', () => {
  it('uploads, lists and downloads (## inside, empty, > 100 MiB), creating folders on the way', async () => {
    const marker = await localFile('marker.txt', 'before\n##\nafter ## end\n');
    const empty = await localFile('empty.txt', '');
    for (const [file, remote] of [
      [marker, 'deep/er/marker.txt'],
      [empty, 'deep/er/empty.txt'],
      [big, 'deep/big.bin'],
    ] as const) {
      const put = await runTool('curl', ['-sS', ...auth, '--ftp-create-dirs', '-T', file, url(remote)], { timeoutMs: 60_000 });
      expect(put.code, put.stderr).toBe(0);
    }
    const list = await runTool('curl', ['-sS', ...auth, url('deep/er/')]);
    // curl turns the listing's CR LF into the local line end.
    expect(list.stdout.toString()).toMatch(/^-rw-r--r-- 1 alice +ftp +0 .* empty\.txt\r?\n-rw-r--r-- 1 alice +ftp +23 .* marker\.txt\r?\n$/);
    const names = await runTool('curl', ['-sS', ...auth, '--list-only', url('deep/')]);
    expect(names.stdout.toString().replace(/\r/g, '')).toBe('big.bin\ner\n');
    for (const [remote, original] of [
      ['deep/er/marker.txt', marker],
      ['deep/er/empty.txt', empty],
      ['deep/big.bin', big],
    ] as const) {
      const out = join(local, `curl-back-${original.length}`);
      const get = await runTool('curl', ['-sS', ...auth, '-o', out, url(remote)], { timeoutMs: 60_000 });
      expect(get.code, get.stderr).toBe(0);
      await expectSameFile(out, original);
    }
  }, 90_000);

  it('resumes a download with -C - and an upload killed midway with -C -', async () => {
    const source = join(local, 'resume-source.bin');
    await randomFile(source, 12 * 1024 * 1024);
    expect((await runTool('curl', ['-sS', ...auth, '-T', source, url('resume-down.bin')])).code).toBe(0);
    const partialDownload = join(local, 'resume-down.part');
    expect((await runTool('curl', ['-sS', ...auth, '-o', partialDownload, url('resume-down.bin')])).code).toBe(0);
    await truncate(partialDownload, 5_000_001);
    const resumed = await runTool('curl', ['-sS', ...auth, '-C', '-', '-o', partialDownload, url('resume-down.bin')]);
    expect(resumed.code, resumed.stderr).toBe(0);
    await expectSameFile(partialDownload, source);

    // Kill an upload midway (the kernel closes data and control together), then resume it.
    const child = spawn('curl', ['-sS', ...auth, '--limit-rate', '4M', '-T', source, url('resume-up.bin')], { stdio: 'ignore' });
    await killMidUpload(child, server.home('alice'), 2 * 1024 * 1024);
    const client = await FtpClient.connect({ port: server.port });
    await client.login('alice', 'secret');
    let kept: number | undefined;
    for (let i = 0; i < 40 && !kept; i++) {
      kept = await client.size('resume-up.bin');
      if (!kept) await new Promise((r) => setTimeout(r, 50));
    }
    await client.quit();
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(12 * 1024 * 1024);
    const finish = await runTool('curl', ['-sS', ...auth, '-C', '-', '-T', source, url('resume-up.bin')], { timeoutMs: 30_000 });
    expect(finish.code, finish.stderr).toBe(0);
    const back = join(local, 'resume-up.back');
    expect((await runTool('curl', ['-sS', ...auth, '-o', back, url('resume-up.bin')])).code).toBe(0);
    await expectSameFile(back, source);
  }, 60_000);

  it('uses TLS with --ssl-reqd (AUTH TLS, PROT P) both ways', async (context) => {
    if (!secureServer) return context.skip('openssl is not installed');
    const secureUrl = (path: string) => `ftp://127.0.0.1:${secureServer?.port}/${path}`;
    const file = join(local, 'tls.bin');
    await randomFile(file, 3 * 1024 * 1024 + 7);
    const put = await runTool('curl', ['-sS', '--ssl-reqd', '-k', ...auth, '-T', file, secureUrl('tls.bin')]);
    expect(put.code, put.stderr).toBe(0);
    const back = join(local, 'tls.back');
    const get = await runTool('curl', ['-sS', '--ssl-reqd', '-k', ...auth, '-o', back, secureUrl('tls.bin')]);
    expect(get.code, get.stderr).toBe(0);
    await expectSameFile(back, file);
    // Against a server without a certificate, --ssl-reqd refuses to go on in the clear.
    const plain = await runTool('curl', ['-sS', '--ssl-reqd', ...auth, url('')]);
    expect(plain.code).not.toBe(0);
  }, 30_000);

  it('gets 552 past the quota and the account stays as it was', async () => {
    const tight = await startTestFtp({}, { quota: 4 * 1024 * 1024 });
    const file = join(local, 'too-big.bin');
    await randomFile(file, 6 * 1024 * 1024);
    const put = await runTool('curl', ['-sS', ...auth, '-T', file, `ftp://127.0.0.1:${tight.port}/too-big.bin`]);
    // curl's "out of disk space on the server" (552).
    expect(put.code).toBe(70);
    expect(put.stderr).toMatch(/Exceeded storage allocation/);
    expect((await tight.store.quota.usage('alice')).bytesUsed).toBe(0);
    expect(await readdir(tight.home('alice'))).toEqual([]);
  });
});

describe.skipIf(pythonSkip)('Python ftplib against wharf', () => {
  const script = `
import ftplib, hashlib, io, sys, ssl
port, secure_port, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
data = open(path, 'rb').read()
digest = hashlib.sha256(data).hexdigest()
f = ftplib.FTP()
f.connect('127.0.0.1', port)
f.login('alice', 'secret')
f.mkd('py')
f.cwd('py')
f.storbinary('STOR data.bin', io.BytesIO(data))
f.storbinary('STOR empty.bin', io.BytesIO(b''))
facts = dict(f.mlsd())
assert facts['data.bin']['type'] == 'file', facts
assert int(facts['data.bin']['size']) == len(data), facts
assert facts['empty.bin']['size'] == '0', facts
# SIZE counts the bytes of the current TYPE (RFC 3659): mlsd() left TYPE A behind.
f.voidcmd('TYPE I')
assert f.size('data.bin') == len(data)
out = io.BytesIO()
f.retrbinary('RETR data.bin', out.write, rest=1000)
assert out.getvalue() == data[1000:], 'REST'
out = io.BytesIO()
f.retrbinary('RETR data.bin', out.write)
assert hashlib.sha256(out.getvalue()).hexdigest() == digest
lines = []
f.retrlines('LIST', lines.append)
assert any(l.endswith(' data.bin') for l in lines), lines
# a text upload in ASCII mode is stored with Unix line ends
f.storlines('STOR text.txt', io.BytesIO(b'one\\r\\ntwo\\r\\n'))
f.quit()
if secure_port:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = ftplib.FTP_TLS(context=ctx)
    s.connect('127.0.0.1', secure_port)
    s.login('alice', 'secret')
    s.prot_p()
    s.storbinary('STOR tls.bin', io.BytesIO(data))
    out = io.BytesIO()
    s.retrbinary('RETR tls.bin', out.write)
    assert hashlib.sha256(out.getvalue()).hexdigest() == digest
    assert dict(s.mlsd())['tls.bin']['size'] == str(len(data))
    s.quit()
print('ok')
`;

  it('does MLSD, REST, storlines and FTP_TLS', async () => {
    const file = join(local, 'ftplib.bin');
    await randomFile(file, 2 * 1024 * 1024 + 3);
    const result = await runTool('python3', ['-c', script, String(server.port), String(secureServer?.port ?? 0), file], { timeoutMs: 30_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout.toString().trim()).toBe('ok');
    expect(await readFile(join(server.home('alice'), 'py', 'text.txt'), 'utf8')).toBe('one\ntwo\n');
    await expectSameFile(join(server.home('alice'), 'py', 'data.bin'), file);
  }, 40_000);

  it('registers with SITE REGISTER before logging in (seed 002), then logs in', async () => {
    const result = await runTool('python3', [
      '-c',
      `import ftplib, sys
f = ftplib.FTP(); f.connect('127.0.0.1', int(sys.argv[1]))
print(f.sendcmd('SITE REGISTER pyuser pw-of-py'))
f.login('pyuser', 'pw-of-py'); print(f.pwd()); f.quit()`,
      String(server.port),
    ]);
    expect(result.stdout.toString()).toBe('200 Account "pyuser" created; log in with USER pyuser.\n/\n');
  });
});

describe.skipIf(lftpSkip)('lftp against wharf', () => {
  it('mirrors a tree down and up, with parallel transfers and a segmented get', async () => {
    const tree = join(local, 'tree');
    await mkdir(join(tree, 'sub', 'deeper'), { recursive: true });
    const files: Array<[string, number]> = [
      ['a.bin', 300_000],
      ['sub/b.bin', 1_000_000],
      ['sub/deeper/c.bin', 2_500_000],
      ['sub/empty', 0],
      ['hash ## name.txt', 10],
    ];
    for (const [name, size] of files) await randomFile(join(tree, name), size);
    const lftp = (commands: string) =>
      runTool('lftp', ['-u', 'alice,secret', '-p', String(server.port), '-e', `set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 10; ${commands}; bye`, '127.0.0.1'], { timeoutMs: 60_000 });
    const up = await lftp(`mirror -R --parallel=4 ${tree} lftp-tree`);
    expect(up.code, up.stderr).toBe(0);
    const down = join(local, 'tree-down');
    const mirror = await lftp(`mirror --parallel=4 lftp-tree ${down}`);
    expect(mirror.code, mirror.stderr).toBe(0);
    for (const [name] of files) {
      await expectSameFile(join(server.home('alice'), 'lftp-tree', name), join(tree, name));
      await expectSameFile(join(down, name), join(tree, name));
    }
    // pget: four connections at once, each with REST at its own offset, on the > 100 MiB file.
    const put = await lftp(`put "${big}" -o lftp-big.bin`);
    expect(put.code, put.stderr).toBe(0);
    const segmented = join(local, 'lftp-big.back');
    const pget = await lftp(`pget -n 4 lftp-big.bin -o ${segmented}`);
    expect(pget.code, pget.stderr).toBe(0);
    expect(await sha256File(segmented)).toBe(bigSha);
  }, 90_000);
});

// ---------------------------------------------------------------------------------------------
// wharf's client against the anchors

function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() - started > timeoutMs) reject(new Error(`nothing listens on ${port}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

async function startAnchor(anchor: 'pyftpdlib' | 'vsftpd', root: string): Promise<{ port: number; child: ChildProcess }> {
  const range = await freePortRange(101);
  const port = Number(range.split('-')[0]);
  const child = spawn('bash', [join(ANCHORS, 'start.sh'), anchor, String(port), root], { stdio: 'ignore' });
  await waitForPort(port);
  return { port, child };
}

async function clientRoundTrip(port: number, user: string, password: string, root: string): Promise<void> {
  const client = await FtpClient.connect({ port });
  await client.login(user, password);
  const file = join(local, 'anchor.bin');
  await randomFile(file, 4 * 1024 * 1024 + 11);
  await client.mkdirs('wharf-client/inner');
  await client.upload(createReadStream(file), 'wharf-client/inner/up.bin');
  expect((await client.list('wharf-client/inner')).map((e) => [e.name, e.type, e.size])).toEqual([['up.bin', 'file', 4 * 1024 * 1024 + 11]]);
  expect(await client.size('wharf-client/inner/up.bin')).toBe(4 * 1024 * 1024 + 11);
  await expectSameFile(join(root, 'wharf-client', 'inner', 'up.bin'), file);
  // Resume an upload the server has a part of, and a download we have a part of.
  await truncate(join(root, 'wharf-client', 'inner', 'up.bin'), 1_000_000);
  await client.upload(createReadStream(file, { start: 1_000_000 }), 'wharf-client/inner/up.bin', { offset: 1_000_000 });
  await expectSameFile(join(root, 'wharf-client', 'inner', 'up.bin'), file);
  const back = join(local, 'anchor.back');
  await client.download('wharf-client/inner/up.bin', createWriteStream(back));
  await truncate(back, 2_000_000);
  await client.download('wharf-client/inner/up.bin', createWriteStream(back, { flags: 'r+', start: 2_000_000 }), { offset: 2_000_000 });
  await expectSameFile(back, file);
  await client.rename('wharf-client/inner/up.bin', 'wharf-client/moved.bin');
  await client.delete('wharf-client/moved.bin');
  await client.rmdir('wharf-client/inner');
  expect(await client.list('wharf-client')).toEqual([]);
  await client.quit();
}

/** A server without HASH: `get -c` cannot check the local bytes, so it refuses; `--force` resumes unchecked. */
async function resumeWithoutHash(port: number, user: string, password: string, root: string): Promise<void> {
  const data = await randomFile(join(root, 'nohash.bin'), 500_000);
  const cwd = await tempDir();
  await writeFile(join(cwd, 'nohash.bin'), data.subarray(0, 200_000));
  const args = ['ftp', 'get', '-c', 'nohash.bin', '--port', String(port), '--user', user];
  const refused = await runWharf(args, { env: { WHARF_PASSWORD: password }, cwd });
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/the server has no HASH command, so wharf cannot check .*--force resumes unchecked/);
  expect((await stat(join(cwd, 'nohash.bin'))).size).toBe(200_000);
  const forced = await runWharf([...args, '--force'], { env: { WHARF_PASSWORD: password }, cwd });
  expect(forced.code, forced.stderr).toBe(0);
  expect((await readFile(join(cwd, 'nohash.bin'))).equals(data)).toBe(true);
}

describe('wharf ftp client against the anchors', () => {
  it('works against pyftpdlib', async (context) => {
    const missing = skipReason(SYSTEM_PYTHON);
    if (missing) return context.skip(missing);
    const probe = await runTool(SYSTEM_PYTHON, ['-c', 'import pyftpdlib']);
    if (probe.code !== 0) {
      if (process.env.CI === 'true') throw new Error('python3-pyftpdlib is not installed, but CI must install it (.ci/run)');
      return context.skip('python3-pyftpdlib is not installed');
    }
    const root = await tempDir('wharf-pyftpd-');
    const { port, child } = await startAnchor('pyftpdlib', root);
    try {
      await clientRoundTrip(port, 'u', 'p', root);
      await resumeWithoutHash(port, 'u', 'p', root);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);

  it('works against vsftpd', async (context) => {
    const missing = skipReason('vsftpd');
    if (missing) return context.skip(missing);
    if (process.getuid?.() !== 0) return context.skip('vsftpd runs as root (start.sh creates its user)');
    const root = await tempDir('wharf-vsftpd-');
    const { port, child } = await startAnchor('vsftpd', root);
    try {
      await clientRoundTrip(port, 'ftpbench', 'p', root);
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
// The seed's whole flow: register, log in, list, upload with progress, resume after a kill,
// download, over-quota refusal

describe('the seed flow', () => {
  let wharf: RunningWharf | undefined;
  let port = 0;
  let cwd: string;

  beforeAll(async () => {
    cwd = tempDataDir();
    await writeFile(join(cwd, 'wharf.json'), JSON.stringify({ accounts: { defaultQuota: '48M' } }));
    wharf = await startWharf(['ftp', 'serve', '--port', '0', '--passive-ports', await freePortRange(20), '--anonymous', '--data', join(cwd, 'data'), '--config', join(cwd, 'wharf.json')], { expectLines: 1, cwd });
    port = wharf.port('ftp', 'tcp');
  }, 30_000);

  afterAll(async () => {
    await wharf?.stop();
  });

  it('from `wharf ftp`', async () => {
    const env = { WHARF_PASSWORD: 'seed pass' };
    const common = ['--port', String(port)];
    const register = await runWharf(['ftp', 'register', 'seeduser', ...common], { env, cwd });
    expect(register.stdout, register.stderr).toMatch(/created/);
    const upload = join(cwd, 'upload.bin');
    await randomFile(upload, 30 * 1024 * 1024);
    // Interrupted upload: killed midway, then resumed.
    const child = spawn(process.execPath, [join(import.meta.dirname, '../../dist/cli/main.js'), 'ftp', 'put', upload, '--user', 'seeduser', ...common, '--limit-rate', '8M'], {
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    await killMidUpload(child, join(cwd, 'data', 'files', 'users', 'seeduser'), 4 * 1024 * 1024);
    const resumed = await runWharf(['ftp', 'put', upload, '--resume', '--user', 'seeduser', ...common], { env, cwd, timeoutMs: 30_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/upload\.bin: .* in .* s, .*\/s \(resumed at /);
    const over = join(cwd, 'over.bin');
    await randomFile(over, 20 * 1024 * 1024);
    const refused = await runWharf(['ftp', 'put', over, '--user', 'seeduser', ...common], { env, cwd, timeoutMs: 30_000 });
    expect(refused.code).toBe(1);
    // ALLO first: refused before a byte is sent, in words.
    expect(refused.stderr).toBe('wharf: over.bin (20.0 MiB) does not fit: 18.0 MiB free of 48.0 MiB\n');
    // The seed client's menu verbs, and the rest, in one session.
    const shell = await runWharf(['ftp', 'shell', '--user', 'seeduser', ...common], {
      env,
      cwd,
      input: 'list\nls\nretr upload.bin download.bin\nquota\nexit\n',
      timeoutMs: 30_000,
    });
    expect(shell.code, shell.stderr).toBe(0);
    const [names, long, quota] = shell.stdout.split(/(?<=\n)(?=- |\d)/);
    expect(names).toBe('upload.bin\n');
    expect(long).toMatch(/^- +30\.0 MiB {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}upload\.bin\n$/);
    expect(quota).toBe('30.0 MiB of 48.0 MiB used, 18.0 MiB free\n');
    expect(shell.stderr).toMatch(/upload\.bin: 30\.0 MiB in /);
    await expectSameFile(join(cwd, 'download.bin'), upload);
  }, 60_000);

  it.skipIf(curlSkip)('from curl', async () => {
    const base = `ftp://127.0.0.1:${port}`;
    // curl logs in (anonymously here) before it sends -Q commands: SITE REGISTER works once logged in too.
    const register = await runTool('curl', ['-sS', '-Q', 'SITE REGISTER curluser curl-pass', `${base}/`]);
    expect(register.code, register.stderr).toBe(0);
    const user = ['-u', 'curluser:curl-pass'];
    const file = join(cwd, 'curl-upload.bin');
    await randomFile(file, 24 * 1024 * 1024);
    const child = spawn('curl', ['-sS', ...user, '--limit-rate', '8M', '-T', file, `${base}/curl.bin`], { stdio: 'ignore' });
    await killMidUpload(child, join(cwd, 'data', 'files', 'users', 'curluser'), 4 * 1024 * 1024);
    const resumed = await runTool('curl', ['-sS', ...user, '-C', '-', '-T', file, `${base}/curl.bin`], { timeoutMs: 30_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    const list = await runTool('curl', ['-sS', ...user, `${base}/`]);
    expect(list.stdout.toString()).toMatch(/ 25165824 .* curl\.bin\r?\n$/);
    const back = join(cwd, 'curl-back.bin');
    expect((await runTool('curl', ['-sS', ...user, '-o', back, `${base}/curl.bin`])).code).toBe(0);
    await expectSameFile(back, file);
    // 24 MiB used of 48: 25 MiB more does not fit.
    const second = join(cwd, 'curl-second.bin');
    await randomFile(second, 25 * 1024 * 1024);
    const over = await runTool('curl', ['-sS', ...user, '-T', second, `${base}/second.bin`], { timeoutMs: 30_000 });
    expect(over.code).toBe(70);
    expect(over.stderr).toMatch(/Exceeded storage allocation/);
    expect((await stat(back)).size).toBe(24 * 1024 * 1024);
  }, 60_000);
});
