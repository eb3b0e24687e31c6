import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DictClient } from '../../../src/services/dict/client.js';
import { definitionsOf, encodeSaslPlain, pairsOf, type Response, type TextReply } from '../../../src/services/dict/protocol.js';
import type { Store } from '../../../src/store/index.js';
import { RawDict, seedTextFile, startDict, tempStore, type StartedDict } from './support.js';

const text = (response: Response, code: number): string[] => (response.preliminary.find((r) => r.code === code && 'lines' in r) as TextReply | undefined)?.lines ?? [];
const codes = (response: Response): number[] => [...response.preliminary.map((r) => r.code), response.final.code];

let server: StartedDict;
let store: Store;

beforeAll(async () => {
  store = await tempStore();
  server = await startDict({ databases: [{ name: 'seed', path: seedTextFile() }] }, { store });
});

afterAll(async () => {
  await server?.stop();
  await store?.close();
});

describe('DICT commands', () => {
  it('greets with 220, capabilities and a message id', async () => {
    const dict = await RawDict.connect(server.port);
    expect(dict.greeting).toMatch(/^220 test\.host wharf \S+ on .+ <mime\.sasl\.xregister\.xhistory> <\d+\.\d+\.\d+@test\.host>$/);
    dict.destroy();
  });

  it('DEFINE: 150, a 151 line and text per definition, 250; 552, 550 and 501 otherwise', async () => {
    const dict = await RawDict.connect(server.port);
    const hello = await dict.send('DEFINE wn hello');
    expect(codes(hello)).toEqual([150, 151, 250]);
    expect(hello.preliminary[0]!.text).toBe('1 definitions retrieved');
    expect(definitionsOf(hello)).toEqual([{ word: 'hello', database: 'wn', description: 'WordNet (r) 3.1 (2011)', text: expect.stringMatching(/^hello\n {4}n 1: an expression of greeting/) }]);
    // WordNet's "twice", then the seed file's two entries.
    expect(codes(await dict.send('DEFINE * twice'))).toEqual([150, 151, 151, 151, 250]);
    expect(codes(await dict.send('DEFINE seed twice'))).toEqual([150, 151, 151, 250]);
    expect(codes(await dict.send('DEFINE ! abandon'))).toEqual([150, 151, 250]);
    expect(definitionsOf(await dict.send('DEFINE * "hell to pay"')).map((d) => d.word)).toEqual(['hell to pay']);
    expect((await dict.send('DEFINE wn xyzzyq')).final).toEqual({ code: 552, text: 'no match' });
    expect((await dict.send('DEFINE nosuch hello')).final.code).toBe(550);
    expect((await dict.send('DEFINE wn')).final.code).toBe(501);
    expect((await dict.send('define WN hello')).final.code).toBe(550);
    dict.destroy();
  });

  it('MATCH: strategies, the default strategy, 551 before 550', async () => {
    const dict = await RawDict.connect(server.port);
    const prefix = await dict.send('MATCH wn prefix hellb');
    expect(codes(prefix)).toEqual([152, 250]);
    expect(pairsOf(prefix.preliminary[0] as TextReply)).toEqual([{ name: 'wn', value: 'hellbender' }]);
    const lev = await dict.send('MATCH * . hallo');
    expect(pairsOf(lev.preliminary[0] as TextReply).map((p) => p.value)).toContain('hello');
    expect(text(await dict.send('MATCH wn exact "hell to pay"'), 152)).toEqual(['wn "hell to pay"']);
    expect((await dict.send('MATCH wn fuzzy hello')).final).toEqual({ code: 551, text: 'invalid strategy, use SHOW STRAT for a list' });
    expect((await dict.send('MATCH nosuch fuzzy hello')).final.code).toBe(551);
    expect((await dict.send('MATCH nosuch prefix hello')).final.code).toBe(550);
    expect((await dict.send('MATCH wn prefix zzzzzzz')).final.code).toBe(552);
    expect((await dict.send('MATCH wn prefix')).final.code).toBe(501);
    dict.destroy();
  });

  it('SHOW DB, STRAT, INFO, SERVER; HELP, STATUS, CLIENT, OPTION MIME, QUIT', async () => {
    const dict = await RawDict.connect(server.port);
    expect(text(await dict.send('SHOW DB'), 110)).toEqual(['wn "WordNet (r) 3.1 (2011)"', 'seed "seed (words.txt)"']);
    expect(text(await dict.send('SHOW DATABASES'), 110)).toHaveLength(2);
    const strategies = text(await dict.send('SHOW STRAT'), 111).map((l) => l.split(' ')[0]);
    expect(strategies).toEqual(['exact', 'prefix', 'nprefix', 'substring', 'suffix', 're', 'regexp', 'soundex', 'lev', 'word', 'first', 'last']);
    expect(text(await dict.send('SHOW INFO wn'), 112)[0]).toBe('============ wn ============');
    expect((await dict.send('SHOW INFO *')).final.code).toBe(550);
    expect(text(await dict.send('SHOW SERVER'), 114).join('\n')).toMatch(/Database +Headwords[\s\S]*\nwn +\d+/);
    expect((await dict.send('SHOW')).final.code).toBe(501);
    expect((await dict.send('SHOW DB extra')).final.code).toBe(501);
    expect(text(await dict.send('HELP'), 113)[0]).toMatch(/^DEFINE database word/);
    expect((await dict.send('STATUS')).final.code).toBe(210);
    expect((await dict.send('CLIENT "test suite 1.0"')).final).toEqual({ code: 250, text: 'ok' });
    expect((await dict.send('OPTION MIME')).final.text).toBe('ok - using MIME headers');
    dict.mime = true;
    const mime = await dict.send('DEFINE seed café');
    expect(definitionsOf(mime)[0]!.text).toBe('café\n    a small restaurant selling light meals and drinks');
    expect(dict.lines).toContain('Content-Type: text/plain; charset=utf-8');
    expect((await dict.send('QUIT')).final).toEqual({ code: 221, text: 'bye' });
    await dict.until(() => dict.closed);
  });

  it('answers unknown commands 500, AUTH 502, ignores empty lines, and dot-stuffs text', async () => {
    const dict = await RawDict.connect(server.port);
    expect((await dict.send('FROBNICATE now')).final).toEqual({ code: 500, text: 'unknown command' });
    expect((await dict.send('AUTH user 0123456789abcdef')).final.code).toBe(502);
    expect((await dict.send('DEFINE wn "unterminated')).final.code).toBe(501);
    dict.write('\r\n\r\n');
    const dotted = await dict.send('DEFINE seed .dotted');
    expect(dict.lines).toContain('..dotted');
    expect(definitionsOf(dotted)[0]!.text).toMatch(/^\.dotted\n/);
    dict.destroy();
  });

  it('serves Unicode headwords', async () => {
    const client = await DictClient.connect({ port: server.port });
    expect((await client.define('你好', 'seed'))[0]!.text).toBe('你好\n    hello (Mandarin greeting)');
    expect((await client.define('ZÜRICH', 'seed'))[0]!.word).toBe('Zürich');
    expect(await client.match('caf', { database: 'seed', strategy: 'prefix' })).toEqual([{ database: 'seed', word: 'café' }]);
    expect(await client.match('naive', { database: 'seed', strategy: 'lev' })).toEqual([]);
    expect(await client.match('naïv', { database: 'seed', strategy: 'lev' })).toEqual([{ database: 'seed', word: 'naïve' }]);
    expect(await client.match('你', { database: 'seed', strategy: 're' })).toEqual([{ database: 'seed', word: '你好' }]);
    await client.quit();
  });
});

describe('bad input', () => {
  it('answers a line over 1024 bytes with 500 and goes on with the next', async () => {
    const dict = await RawDict.connect(server.port);
    const longest = `DEFINE wn ${'a'.repeat(1024 - 2 - 10)}`;
    expect(Buffer.byteLength(`${longest}\r\n`)).toBe(1024);
    dict.write(`DEFINE wn ${'a'.repeat(5000)}\r\n${longest}\r\nDEFINE wn hello\r\n`);
    const [tooLong, fits, next] = await dict.take(3);
    expect(tooLong!.final.code).toBe(500);
    expect(tooLong!.final.text).toMatch(/line too long/);
    expect(fits!.final.code).toBe(552);
    expect(next!.final.code).toBe(250);
    // A huge line in many pieces is dropped without being held whole.
    for (let i = 0; i < 50; i++) dict.write('x'.repeat(20_000));
    dict.write('\r\nSTATUS\r\n');
    const [huge, status] = await dict.take(2);
    expect(huge!.final.code).toBe(500);
    expect(status!.final.code).toBe(210);
    dict.destroy();
  });

  it('gets through 300,000 empty lines in one write quickly, and keeps serving others meanwhile (found by the fuzzer)', async () => {
    const flooder = await RawDict.connect(server.port);
    const started = Date.now();
    flooder.write(`${'\n'.repeat(300_000)}STATUS\r\n`);
    const other = await RawDict.connect(server.port);
    expect((await other.send('STATUS', 5_000)).final.code).toBe(210);
    other.destroy();
    const [status] = await flooder.take(1, 20_000);
    expect(status!.final.code).toBe(210);
    // Dequeuing each line from the front of a 65,000-entry array made this take minutes.
    expect(Date.now() - started).toBeLessThan(5_000);
    flooder.destroy();
  });

  it('answers 1,000 pipelined commands sent in one write, in order', async () => {
    const dict = await RawDict.connect(server.port);
    const words = ['hello', 'world', 'xyzzyq', 'cat', 'dog'];
    const commands = Array.from({ length: 1000 }, (_, i) => (i % 10 === 9 ? `MATCH wn prefix ${words[i % 5]}` : `DEFINE wn ${words[i % 5]}`));
    dict.write(commands.map((c) => `${c}\r\n`).join(''));
    const responses = await dict.take(1000, 20_000);
    responses.forEach((response, i) => {
      const word = words[i % 5]!;
      if (i % 10 === 9) expect(response.final.code).toBe(word === 'xyzzyq' ? 552 : 250);
      else if (word === 'xyzzyq') expect(response.final.code).toBe(552);
      else expect(definitionsOf(response)[0]!.word).toBe(word);
    });
    dict.destroy();
  });

  it('runs a regular expression built to backtrack forever in bounded time, and keeps serving others', async () => {
    const attacker = await RawDict.connect(server.port);
    const other = await RawDict.connect(server.port);
    const started = Date.now();
    attacker.write('MATCH * re "^(a+)+$"\r\nMATCH * re "^(x+x+)+z$"\r\nMATCH wn regexp \'\\(a*\\)*b$\'\r\n');
    const otherStarted = Date.now();
    expect((await other.send('DEFINE wn hello')).final.code).toBe(250);
    const otherLatency = Date.now() - otherStarted;
    const answers = await attacker.take(3, 15_000);
    expect(answers.map((a) => a.final.code)).toEqual([250, 552, 250]);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(otherLatency).toBeLessThan(2_000);
    // Patterns that cannot be run cheaply are refused with a reason, and the connection goes on.
    expect((await attacker.send('MATCH wn re "((a{100}){100}){100}"')).final.text).toMatch(/^syntax error, illegal parameters: bad regular expression: the pattern is too large/);
    expect((await attacker.send("MATCH wn re '(a)\\1'")).final.text).toMatch(/back-references/);
    expect((await attacker.send('DEFINE wn hello')).final.code).toBe(250);
    attacker.destroy();
    other.destroy();
  });

  it('limits a MATCH that would return 100,000 headwords', async () => {
    const dict = await RawDict.connect(server.port);
    const all = await dict.send('MATCH wn re .');
    expect(all.preliminary[0]!.text).toBe('2000 matches found');
    expect(text(all, 152)).toHaveLength(2000);
    expect((await dict.send('MATCH * substring e')).preliminary[0]!.text).toBe('2000 matches found');
    expect((await dict.send('MATCH * prefix ""')).preliminary[0]!.text).toBe('2000 matches found');
    dict.destroy();
  });

  it('refuses a regular expression that runs past its CPU budget', async () => {
    const tight = await startDict({ regexTimeLimitMs: 1, imported: false });
    const dict = await RawDict.connect(tight.port);
    expect((await dict.send('MATCH wn re "(a|b|c|d|e|f)*(g|h)+[^q]*z$"')).final.text).toMatch(/took more than 1 ms/);
    expect((await dict.send('MATCH wn prefix hello')).final.code).toBe(250);
    dict.destroy();
    await tight.stop();
  });

  it('answers commands sent before a half-close, then closes', async () => {
    const dict = await RawDict.connect(server.port);
    dict.write('DEFINE wn hello\r\nMATCH wn prefix hellb');
    dict.end();
    const responses = await dict.take(2);
    expect(responses.map((r) => r.final.code)).toEqual([250, 250]);
    await dict.until(() => dict.closed);
  });
});

describe('accounts and history (the seed\'s R, L, Q and H)', () => {
  it('registers, logs in with SASL PLAIN, records lookups, lists the 10 latest', async () => {
    const dict = await RawDict.connect(server.port);
    expect((await dict.send('XREGISTER alice s3cret-pass')).final).toEqual({ code: 250, text: 'ok, account alice created' });
    expect((await dict.send('XREGISTER alice other-pass')).final.code).toBe(530);
    expect((await dict.send('XREGISTER "bad name" pass-word')).final.code).toBe(501);
    expect((await dict.send('XHISTORY')).final.code).toBe(530);
    expect((await dict.send(`SASLAUTH PLAIN ${encodeSaslPlain('alice', 'wrong')}`)).final.code).toBe(531);
    expect((await dict.send('SASLAUTH CRAM-MD5 x')).final.code).toBe(532);
    expect((await dict.send('SASLAUTH PLAIN')).final.code).toBe(330);
    expect((await dict.send(`SASLRESP ${encodeSaslPlain('alice', 's3cret-pass')}`)).final).toEqual({ code: 230, text: 'authentication successful' });
    const words = ['cat', 'dog', 'hello', 'xyzzyq', 'bird', 'fish', 'tree', 'house', 'car', 'book', 'hell to pay', 'last'];
    dict.write(words.map((w) => `DEFINE * "${w}"\r\n`).join('') + 'XHISTORY\r\n');
    const responses = await dict.take(words.length + 1);
    const history = responses[words.length]!;
    expect(history.preliminary[0]!.text).toBe('10 lookups follow');
    const lines = text(history, 160);
    expect(lines).toHaveLength(10);
    expect(lines[0]).toMatch(/^alice last \* \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    expect(lines[1]).toMatch(/^alice "hell to pay" \*/);
    expect(lines[9]).toMatch(/^alice hello \*/);
    expect(text(await dict.send('XHISTORY 3'), 160)).toHaveLength(3);
    expect((await dict.send('XLOGOUT')).final.code).toBe(250);
    expect((await dict.send('XHISTORY')).final.code).toBe(530);
    dict.destroy();

    const client = await DictClient.connect({ port: server.port });
    expect(await client.login('alice', 's3cret-pass')).toBe(true);
    expect((await client.history(2)).map((h) => h.word)).toEqual(['last', 'hell to pay']);
    await client.quit();
  });

  it('forgets an account\'s history with the account', async () => {
    const client = await DictClient.connect({ port: server.port });
    await client.register('bob', 'bobs-password');
    expect(await client.login('bob', 'bobs-password')).toBe(true);
    await client.define('hello');
    expect(await client.history()).toHaveLength(1);
    await store.accounts.remove('bob');
    await store.accounts.add('bob', 'new-password');
    expect(await client.login('bob', 'new-password')).toBe(true);
    expect(await client.history()).toEqual([]);
    await client.quit();
  });

  it('answers 502 when the server has no account store', async () => {
    const bare = await startDict({ wordnet: false, databases: [{ name: 'seed', path: seedTextFile() }] });
    const dict = await RawDict.connect(bare.port);
    expect(dict.greeting).toMatch(/<mime>/);
    expect((await dict.send(`SASLAUTH PLAIN ${encodeSaslPlain('a', 'b')}`)).final.code).toBe(502);
    expect((await dict.send('XREGISTER a b')).final.code).toBe(502);
    expect((await dict.send('XHISTORY')).final.code).toBe(502);
    expect(text(await dict.send('SHOW DB'), 110)).toEqual(['seed "seed (words.txt)"']);
    dict.destroy();
    await bare.stop();
  });
});

describe('a damaged database', () => {
  it('fails the one command with 420 and goes on', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wharf-dict-bad-'));
    writeFileSync(path.join(dir, 'bad.index'), 'broken\tA\tK\n');
    // A dictzip header announcing one 10-byte chunk, then 10 bytes that are not deflate.
    const extra = Buffer.from([0x52, 0x41, 8, 0, 1, 0, 100, 0, 1, 0, 10, 0]);
    const header = Buffer.from([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 2, 3, extra.length, 0]);
    writeFileSync(path.join(dir, 'bad.dict.dz'), Buffer.concat([header, extra, Buffer.alloc(10, 0xff), Buffer.from([0, 0, 0, 0, 10, 0, 0, 0])]));
    const own = await startDict({ wordnet: false, databases: [{ name: 'bad', path: path.join(dir, 'bad.index') }, { name: 'seed', path: seedTextFile() }] });
    const dict = await RawDict.connect(own.port);
    expect((await dict.send('DEFINE bad broken')).final.code).toBe(420);
    expect((await dict.send('DEFINE seed abandon')).final.code).toBe(250);
    dict.destroy();
    await own.stop();
  });
});

describe('shutdown', () => {
  it('says 421 to connected clients when the server stops', async () => {
    const own = await startDict({ wordnet: false, databases: [{ name: 'seed', path: seedTextFile() }] });
    const dict = await RawDict.connect(own.port);
    expect((await dict.send('DEFINE seed abandon')).final.code).toBe(250);
    await own.stop();
    await dict.until(() => dict.closed);
    expect(dict.lines[dict.lines.length - 1]).toMatch(/^421 /);
  });
});
