import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WHARF_BIN, requireBuild, runWharf, startWharf, tempDataDir, type RunningWharf } from '../../helpers/cli.js';
import { TmuxShell, waitFor } from '../../helpers/tmux.js';
import { skipReason } from '../../helpers/tools.js';
import { makeSite, request, startWeb } from './support.js';

const site = makeSite();
const running: RunningWharf[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});
afterAll(() => rmSync(site.base, { recursive: true, force: true }));

async function serve(args: string[], expectLines = 1): Promise<RunningWharf> {
  const started = await startWharf(['web', 'serve', '--port', '0', ...args], { expectLines });
  running.push(started);
  return started;
}

describe('wharf web serve', () => {
  it('serves a fresh data folder a welcome page', async () => {
    const data = tempDataDir();
    const wharf = await serve(['--data', data]);
    expect(wharf.lines[0]).toMatch(/^web http:\/\/127\.0\.0\.1:\d+\/$/);
    const res = await request(wharf.port('web', 'tcp'), '/');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toContain('It works');
    expect(existsSync(join(data, 'www', 'index.html'))).toBe(true);
    expect(await wharf.stop()).toBe(0);
  });

  it('serves --root with --listing and --cors, and writes an access log file', async () => {
    const log = join(site.base, 'cli-access.log');
    const wharf = await serve(['--root', site.root, '--listing', '--cors', 'https://app.example', '--access-log', log, '--cache-control', 'max-age=60']);
    const port = wharf.port('web', 'tcp');
    const listing = await request(port, '/files/');
    expect(listing.status).toBe(200);
    expect(listing.body.toString()).toContain('one.txt');
    const css = await request(port, '/style.css');
    expect(css.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(css.headers['cache-control']).toBe('max-age=60');
    expect(await wharf.stop()).toBe(0);
    expect(readFileSync(log, 'utf8')).toContain('"GET /style.css HTTP/1.1" 200');
  });

  it('logs one event per request, its message the whole access line', async () => {
    const wharf = await startWharf(['web', 'serve', '--port', '0', '--root', site.root], { expectLines: 1, env: { WHARF_LOG_LEVEL: 'info' } });
    running.push(wharf);
    await request(wharf.port('web', 'tcp'), '/app.js');
    await new Promise((r) => setTimeout(r, 300));
    const lines = wharf.stderr().split('\n').filter((l) => l.includes('/app.js'));
    expect(lines).toHaveLength(1);
    const event = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(event.msg).toMatch(/^127\.0\.0\.1 "GET \/app\.js HTTP\/1\.1" 200 \d+ B \d+ ms$/);
    expect(event).toMatchObject({ level: 30, method: 'GET', url: '/app.js', status: 200, service: 'web' });
  });

  it('runs --workers 2 processes on one port', async () => {
    const wharf = await serve(['--root', site.root, '--workers', '2', '--log-level', 'warn']);
    const port = wharf.port('web', 'tcp');
    const statuses = await Promise.all(Array.from({ length: 20 }, () => request(port, '/style.css').then((r) => r.status)));
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(await wharf.stop()).toBe(0);
  });

  it('serves HTTPS with --cert and --key', async () => {
    const fixtures = join(import.meta.dirname, 'fixtures');
    const wharf = await serve(['--root', site.root, '--cert', join(fixtures, 'localhost.crt'), '--key', join(fixtures, 'localhost.key')]);
    const https = await import('node:https');
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', servername: 'localhost', port: wharf.port('web', 'tcp'), path: '/', ca: readFileSync(join(fixtures, 'localhost.crt')), agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    expect(status).toBe(200);
  });

  it('explains a missing root and exits 1', async () => {
    const result = await runWharf(['web', 'serve', '--port', '0', '--root', join(site.base, 'missing')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/web root .*missing does not exist/);
  });

  it('says a taken port in the sentence every service uses, and exits 1', async () => {
    const first = await serve(['--root', site.root]);
    const port = first.port('web', 'tcp');
    const second = await runWharf(['web', 'serve', '--port', String(port), '--root', site.root]);
    expect(second.code).toBe(1);
    expect(second.stderr).toBe(`wharf: web cannot listen on tcp 127.0.0.1:${port}: the port is in use (by another wharf, or another server); choose another with --set web.port=PORT\n`);
  });

  // 192.0.2.1 (TEST-NET-1) is on no machine; with ip_nonlocal_bind set, Linux would let it bind.
  const nonlocalBind = existsSync('/proc/sys/net/ipv4/ip_nonlocal_bind') && readFileSync('/proc/sys/net/ipv4/ip_nonlocal_bind', 'utf8').trim() !== '0';
  it.skipIf(nonlocalBind)('says an address that is not on this machine, and which flag changes it', async () => {
    const result = await runWharf(['web', 'serve', '--host', '192.0.2.1', '--port', '0', '--root', site.root]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('wharf: web cannot listen on tcp 192.0.2.1:0: that address is not on this machine; choose another with --host or --set web.host=ADDRESS\n');
  });

  it('explains a bad setting and exits 2', async () => {
    const result = await runWharf(['web', 'serve', '--port', '0', '--cert', 'only-a-cert.pem']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('services.web.cert: cert and key go together');
  });
});

describe('wharf web get', () => {
  it('saves a URL under its own name, says nothing when piped, and exits 0', async () => {
    const web = await startWeb(site.root);
    try {
      const cwd = mkdtempSync(join(tmpdir(), 'wharf-web-get-cli-'));
      const result = await runWharf(['web', 'get', `${web.url}/big.bin`], { cwd });
      expect(result).toMatchObject({ code: 0, stdout: '', stderr: '' });
      expect(readFileSync(join(cwd, 'big.bin')).equals(site.big)).toBe(true);
      expect(existsSync(join(cwd, '.big.bin.wharf-part'))).toBe(false);
    } finally {
      await web.stop();
    }
  });

  it('will not replace a file without --force, and prints to stdout with -o -', async () => {
    const web = await startWeb(site.root);
    try {
      const cwd = mkdtempSync(join(tmpdir(), 'wharf-web-get-cli-'));
      writeFileSync(join(cwd, 'one.txt'), 'mine\n');
      const refused = await runWharf(['web', 'get', `${web.url}/files/one.txt`], { cwd });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe('wharf: one.txt exists: not replaced (--force replaces it)\n');
      expect(readFileSync(join(cwd, 'one.txt'), 'utf8')).toBe('mine\n');
      expect((await runWharf(['web', 'get', '--force', `${web.url}/files/one.txt`], { cwd })).code).toBe(0);
      expect(readFileSync(join(cwd, 'one.txt'), 'utf8')).toBe('1\n');
      const printed = await runWharf(['web', 'get', '-o', '-', `${web.url}/`], { cwd });
      expect(printed).toMatchObject({ code: 0, stdout: '<!doctype html><title>home</title><h1>home</h1>\n' });
      const missing = await runWharf(['web', 'get', `${web.url}/nope.txt`], { cwd });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/^wharf: http:\/\/127\.0\.0\.1:\d+\/nope\.txt: 404 Not Found\n$/);
    } finally {
      await web.stop();
    }
  });

  it('saves a URL ending in /- as a file named "-", as curl -O does: only -o - means stdout', async () => {
    writeFileSync(join(site.root, '-'), 'a file named dash\n');
    const web = await startWeb(site.root);
    try {
      const cwd = mkdtempSync(join(tmpdir(), 'wharf-web-get-cli-'));
      const result = await runWharf(['web', 'get', `${web.url}/-`], { cwd });
      expect(result).toMatchObject({ code: 0, stdout: '' });
      expect(readFileSync(join(cwd, '-'), 'utf8')).toBe('a file named dash\n');
      const refused = await runWharf(['web', 'get', `${web.url}/-`], { cwd });
      expect(refused).toMatchObject({ code: 1, stdout: '' });
      const printed = await runWharf(['web', 'get', '-o', '-', `${web.url}/-`], { cwd });
      expect(printed).toMatchObject({ code: 0, stdout: 'a file named dash\n' });
    } finally {
      await web.stop();
      rmSync(join(site.root, '-'));
    }
  });

  it.skipIf(skipReason('tmux') !== undefined)('in a terminal, ends with one summary line naming the file', async () => {
    requireBuild();
    const web = await startWeb(site.root);
    const cwd = mkdtempSync(join(tmpdir(), 'wharf-web-get-cli-'));
    const shell = TmuxShell.start({ WHARF_DATA: tempDataDir() });
    try {
      shell.type(`cd ${cwd} && ${process.execPath} ${WHARF_BIN} web get ${web.url}/big.bin; echo "exit=$?"`);
      const screen = await waitFor(() => (/^exit=\d+$/m.test(shell.screen()) ? shell.screen() : undefined), 'the end of wharf web get');
      expect(screen).toMatch(/^get big\.bin: 300\.0 KiB in [\d.]+ s, .*\/s into big\.bin$/m);
      expect(screen).toMatch(/^exit=0$/m);
      expect(readFileSync(join(cwd, 'big.bin')).equals(site.big)).toBe(true);
    } finally {
      shell.close();
      await web.stop();
    }
  });

  it('refuses a URL it cannot use, or a name that would leave the folder, with status 2', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'wharf-web-get-cli-'));
    const notUrl = await runWharf(['web', 'get', 'not a url'], { cwd });
    expect(notUrl.code).toBe(2);
    expect(notUrl.stderr).toContain('not a URL');
    const escaping = await runWharf(['web', 'get', 'http://127.0.0.1:9/..%2Fescape.txt'], { cwd });
    expect(escaping.code).toBe(2);
    expect(escaping.stderr).toContain('use -o FILE');
  });
});

