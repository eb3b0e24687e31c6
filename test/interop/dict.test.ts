/**
 * wharf's DICT server with real peers: the `dict` client, curl's dict:// URLs, dictd itself
 * (the same Debian dict-wn database served by both must give the same answers), and the built
 * `wharf dict serve` command as a fresh clone runs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResponseReader, type Response } from '../../src/services/dict/protocol.js';
import { runWharf, startWharf } from '../helpers/cli.js';
import { runTool, skipReason } from '../helpers/tools.js';
import { seedTextFile, startDict, type StartedDict } from '../services/dict/support.js';

const DEBIAN_WN = '/usr/share/dictd/wn.index';
const DEBIAN_WN_DZ = '/usr/share/dictd/wn.dict.dz';
const noDict = skipReason('dict');
const noCurl = skipReason('curl');
const noDictd = skipReason('dictd') ?? (existsSync(DEBIAN_WN) && existsSync(DEBIAN_WN_DZ) ? undefined : 'dict-wn is not installed');
const skipped = (reason: string | undefined) => (reason ? ` (skipped: ${reason})` : '');

let wharf: StartedDict;

beforeAll(async () => {
  wharf = await startDict({ databases: [{ name: 'seed', path: seedTextFile() }] });
});
afterAll(() => wharf?.stop());

const dict = (...args: string[]) => runTool('dict', ['-h', '127.0.0.1', '-p', String(wharf.port), ...args]);

describe('the dict client', () => {
  it.skipIf(noDict)(`looks a word up in every database${skipped(noDict)}`, async () => {
    const result = await dict('hello');
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe(
      '1 definition found\n\nFrom WordNet (r) 3.1 (2011) [wn]:\n\n  hello\n      n 1: an expression of greeting; "every morning they exchanged\n' +
        '           polite hellos" [syn: {hello}, {hullo}, {hi}, {howdy}, {how-\n           do-you-do}]\n',
    );
  });

  it.skipIf(noDict)(`-d picks the database, Unicode headwords included${skipped(noDict)}`, async () => {
    const result = await dict('-d', 'seed', '你好');
    expect(result.stdout.toString()).toContain('From seed (words.txt) [seed]:\n\n  你好\n      hello (Mandarin greeting)');
    expect((await dict('-d', 'nosuch', 'hello')).stderr).toMatch(/not a valid database/);
  });

  it.skipIf(noDict)(`-m -s prefix lists matches; a miss suggests lev matches${skipped(noDict)}`, async () => {
    const result = await dict('-m', '-s', 'prefix', 'hellb');
    expect(result.stdout.toString()).toBe('wn:  hellbender\n');
    const miss = await dict('hallo');
    expect(miss.code).toBe(21);
    expect(miss.stderr).toContain('No definitions found for "hallo", perhaps you mean:\nwn:  halo  hall  halloo  hallow  hello  hollo  hullo  halle');
  });

  it.skipIf(noDict)(`-D, -S and -I show databases, strategies and server information${skipped(noDict)}`, async () => {
    expect((await dict('-D')).stdout.toString()).toBe('Databases available:\n wn         WordNet (r) 3.1 (2011)\n seed       seed (words.txt)\n');
    const strategies = (await dict('-S')).stdout.toString();
    expect(strategies).toMatch(/^Strategies available:\n exact +Match headwords exactly\n prefix +Match prefixes\n/);
    expect(strategies.trim().split('\n')).toHaveLength(13);
    expect((await dict('-I')).stdout.toString()).toMatch(/wharf [\s\S]*Database +Headwords/);
    expect((await dict('-i', 'wn')).stdout.toString()).toContain('============ wn ============');
  });
});

describe('curl dict:// URLs', () => {
  it.skipIf(noCurl)(`d:word:db and m:word:db:strategy${skipped(noCurl)}`, async () => {
    const define = (await runTool('curl', ['-s', `dict://127.0.0.1:${wharf.port}/d:hello:wn`])).stdout.toString();
    expect(define).toMatch(/^220 .*\r\n250 ok\r\n150 1 definitions retrieved\r\n151 "hello" wn "WordNet \(r\) 3\.1 \(2011\)"\r\nhello\r\n/);
    expect(define).toMatch(/\r\n\.\r\n250 ok\r\n221 bye\r\n$/);
    const match = (await runTool('curl', ['-s', `dict://127.0.0.1:${wharf.port}/m:hell:wn:prefix`])).stdout.toString();
    expect(match).toContain('152 42 matches found\r\nwn "hell"\r\nwn "hell dust"\r\n');
    const unicode = (await runTool('curl', ['-s', `dict://127.0.0.1:${wharf.port}/d:${encodeURIComponent('café')}:seed`])).stdout.toString();
    expect(unicode).toContain('151 "café" seed');
  });
});

// ---------------------------------------------------------------------------------------------
// Side by side with dictd on the same database

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Send every command in one write, read one response per command. */
async function ask(port: number, commands: string[]): Promise<Response[]> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.setEncoding('utf8');
  const reader = new ResponseReader();
  const responses: Response[] = [];
  let buffer = '';
  let greeted = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`port ${port}: ${responses.length} of ${commands.length} responses`)), 30_000);
    socket.on('error', reject);
    socket.on('data', (text: string) => {
      buffer += text;
      let at: number;
      while ((at = buffer.indexOf('\r\n')) !== -1) {
        const line = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        if (!greeted) {
          greeted = true;
          socket.write(commands.map((c) => `${c}\r\n`).join(''));
          continue;
        }
        const response = reader.push(line);
        if (response) responses.push(response);
        if (responses.length === commands.length) {
          clearTimeout(timer);
          socket.destroy();
          resolve(responses);
        }
      }
    });
  });
}

/** A response as a user sees it: status codes, texts without dictd's timing suffix, lines. */
function comparable(response: Response): unknown {
  const strip = (text: string) => text.replace(/ \[d\/m\/c = [^\]]*\]$/, '');
  return {
    final: `${response.final.code} ${strip(response.final.text)}`,
    preliminary: response.preliminary.map((r) => ({ status: `${r.code} ${r.text}`, lines: 'lines' in r ? r.lines : undefined })),
  };
}

/** A few hundred headwords of the index spread over it, the odd ones included, and a few misses. */
function sampleWords(count: number): string[] {
  const lines = readFileSync(DEBIAN_WN, 'latin1').split('\n').filter(Boolean);
  const step = Math.floor(lines.length / count);
  const words = lines.filter((_, i) => i % step === 7).map((l) => l.split('\t')[0]!);
  return [...words, "'hood", '.22', "hell's kitchen", "cat-o'-nine-tails", '0', 'a', 'HeLLo', 'hell to pay', 'xyzzyq', 'wordz', 'run', 'good', 'set'];
}

const dictArgument = (word: string) => `"${word.replace(/["\\]/g, '\\$&')}"`;

describe.skipIf(noDictd)(`the same answers as dictd for Debian's dict-wn${skipped(noDictd)}`, () => {
  let dictd: ChildProcess | undefined;
  let dictdPort = 0;
  let same: StartedDict;

  beforeAll(async () => {
    dictdPort = await freePort();
    const dir = mkdtempSync(path.join(tmpdir(), 'wharf-dictd-'));
    // dictd drops its privileges before it opens its log: the folder must be writable by anyone.
    chmodSync(dir, 0o777);
    writeFileSync(path.join(dir, 'dictd.conf'), `global { listen_to 127.0.0.1 }\naccess { allow 127.0.0.1 }\ndatabase wn { data ${DEBIAN_WN_DZ}\n index ${DEBIAN_WN} }\n`);
    dictd = spawn('dictd', ['-d', 'nodetach', '-c', path.join(dir, 'dictd.conf'), '--port', String(dictdPort), '--pid-file', path.join(dir, 'dictd.pid'), '-L', path.join(dir, 'dictd.log')], { stdio: 'ignore' });
    const deadline = Date.now() + 15_000;
    while (!(await new Promise<boolean>((resolve) => net.connect(dictdPort, '127.0.0.1').once('connect', function (this: net.Socket) { this.destroy(); resolve(true); }).once('error', () => resolve(false))))) {
      if (Date.now() > deadline) throw new Error('dictd did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    same = await startDict({ wordnet: false, imported: false, databases: [{ name: 'wn', path: DEBIAN_WN }] });
  });

  afterAll(async () => {
    if (dictd?.pid !== undefined) dictd.kill('SIGTERM');
    await same?.stop();
  });

  it('DEFINE and MATCH (exact, prefix, first, lev) for a few hundred words', async () => {
    const words = sampleWords(300);
    const commands = words.flatMap((w) => [`DEFINE wn ${dictArgument(w)}`, `MATCH wn prefix ${dictArgument(w)}`, `MATCH wn lev ${dictArgument(w)}`, `MATCH wn exact ${dictArgument(w)}`, `MATCH wn first ${dictArgument(w)}`]);
    commands.push('DEFINE * hello', 'DEFINE ! "hell to pay"', 'MATCH * . hallo', 'SHOW DB', 'SHOW STRAT', 'DEFINE nosuch hello', 'MATCH wn nosuch hello');
    const [theirs, ours] = await Promise.all([ask(dictdPort, commands), ask(same.port, commands)]);
    let found = 0;
    commands.forEach((command, i) => {
      expect(comparable(ours[i]!), command).toEqual(comparable(theirs[i]!));
      if (ours[i]!.final.code === 250) found++;
    });
    expect(found).toBeGreaterThan(commands.length / 2);
  });

  it('MATCH with the scanning strategies (substring, suffix, word, last, soundex, re, regexp, nprefix)', async () => {
    const words = ['hello', 'ellow', 'cat', 'fish', 'xyz', 'run', "s'", 'ing', 'to pay', 'qu'];
    const commands = words.flatMap((w) => ['substring', 'suffix', 'word', 'last', 'soundex'].map((s) => `MATCH wn ${s} ${dictArgument(w)}`));
    commands.push(
      'MATCH wn re "^hel+o$"',
      'MATCH wn re "^(cat|dog)s?$"',
      'MATCH wn re "[0-9]{3}"',
      "MATCH wn regexp '^x\\{2\\}'",
      // Not "^[...": dictd then searches only headwords that begin with "[" (its optStart shortcut
      // takes the character after "^" for a literal), so it finds none; wharf finds them.
      "MATCH wn regexp '[[:digit:]]x'",
      'MATCH wn re .',
      'MATCH wn substring e',
      'MATCH wn nprefix 5#10#hel',
    );
    const [theirs, ours] = await Promise.all([ask(dictdPort, commands), ask(same.port, commands)]);
    commands.forEach((command, i) => expect(comparable(ours[i]!), command).toEqual(comparable(theirs[i]!)));
  });
});

describe('the built command, as on a fresh clone', () => {
  it.skipIf(noDict)(`wharf dict serve answers dict -h 127.0.0.1 -p PORT hello${skipped(noDict)}`, async () => {
    const server = await startWharf(['dict', 'serve', '--port', '0'], { expectLines: 1, timeoutMs: 30_000 });
    try {
      const port = server.port('dict', 'tcp');
      const result = await runTool('dict', ['-h', '127.0.0.1', '-p', String(port), 'hello']);
      expect(result.stdout.toString()).toContain('From WordNet (r) 3.1 (2011) [wn]:');
      const curl = await runTool('curl', ['-s', `dict://127.0.0.1:${port}/d:hello:wn`]);
      expect(curl.stdout.toString()).toContain('151 "hello" wn');
      // wharf's own client prints what dict prints.
      for (const args of [['hello'], ['-m', '-s', 'prefix', 'hell']]) {
        const ours = await runWharf(['dict', '-p', String(port), ...args]);
        const theirs = await runTool('dict', ['-h', '127.0.0.1', '-p', String(port), ...args]);
        expect(ours.stdout, args.join(' ')).toBe(theirs.stdout.toString());
      }
    } finally {
      await server.stop();
    }
  });
});
