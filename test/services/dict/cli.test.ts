import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDefinitions, formatMatches, importDatabase, interactive } from '../../../src/services/dict/cli.js';
import { importedSources, openDatabase } from '../../../src/services/dict/databases.js';
import type { Store } from '../../../src/store/index.js';
import { seedTextFile, startDict, tempStore, type StartedDict } from './support.js';

const DEBIAN_WN = '/usr/share/dictd/wn.index';

let server: StartedDict;
let store: Store;

beforeAll(async () => {
  store = await tempStore();
  server = await startDict({ wordnet: false, databases: [{ name: 'seed', path: seedTextFile() }] }, { store });
});

afterAll(async () => {
  await server?.stop();
  await store?.close();
});

async function session(lines: string[]): Promise<string> {
  const input = new PassThrough();
  const chunks: Buffer[] = [];
  const output = new PassThrough();
  output.on('data', (chunk: Buffer) => chunks.push(chunk));
  input.end(lines.map((l) => `${l}\n`).join(''));
  const code = await interactive({ host: '127.0.0.1', port: server.port, input, output });
  expect(code).toBe(0);
  return Buffer.concat(chunks).toString('utf8');
}

describe("the seed's interactive dictionary (wharf dict with no word)", () => {
  it('registers (password twice), logs in, looks words up until ##, shows the history, logs out, quits', async () => {
    const out = await session([
      '1', 'carol', 'pw with space', // a space: asked again
      'carol', 'secret-1', 'secret-2', // passwords differ: asked again
      'carol', 'secret-1', 'secret-1',
      '2', 'carol', 'secret-1',
      '1', 'café', '你好', 'nothing-here', '##',
      '2',
      '3',
      '3',
    ]);
    expect(out).toContain('1. register   2. log in   3. quit');
    expect(out).toContain('Names and passwords cannot contain spaces.');
    expect(out).toContain('The two passwords differ.');
    expect(out).toContain('Registered.');
    expect(out).toContain('Logged in.');
    expect(out).toContain('user: carol');
    expect(out).toContain('café :\n  café\n      a small restaurant selling light meals and drinks\n');
    expect(out).toContain('你好 :\n  你好\n      hello (Mandarin greeting)\n');
    expect(out).toContain('nothing-here : Not Found');
    expect(out).toMatch(/carol {4}nothing-here {3}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\ncarol {4}你好 {3}.*\ncarol {4}café /);
    expect(out).toContain('Thanks for using the dictionary.');
  });

  it('says when a login fails or a name is taken, and quits at the end of input', async () => {
    const out = await session(['1', 'carol', 'another-1', 'another-1', '2', 'carol', 'wrong-password', '4']);
    expect(out).toContain('Registration failed: access denied: the account name "carol" is taken');
    expect(out).toContain('Login failed.');
    expect(out).toContain('Please enter 1, 2 or 3.');
    expect(out).toContain('Thanks for using the dictionary.');
  });
});

describe('wharf dict output, like the dict client', () => {
  it('formats definitions and matches', () => {
    expect(formatDefinitions([{ word: 'hello', database: 'wn', description: 'WordNet', text: 'hello\n    n 1: greeting' }])).toBe(
      '1 definition found\n\nFrom WordNet [wn]:\n\n  hello\n      n 1: greeting\n',
    );
    const matches = ['hell', 'hell dust', 'hell on earth', 'hell raising', 'hell to pay', "hell's half acre", 'hell-bent'].map((word) => ({ database: 'wn', word }));
    expect(formatMatches(matches)).toBe('wn:  hell  "hell dust"  "hell on earth"  "hell raising"\n  "hell to pay"  "hell\'s half acre"  hell-bent\n');
  });
});

describe('wharf dict import', () => {
  it("converts a seed text file into <data>/dict, where the server finds it", () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'wharf-import-'));
    const said = importDatabase(seedTextFile(), { name: 'mine', dataDir, description: 'My words', force: false });
    expect(said).toMatch(/converted 8 entries of words\.txt \(skipped lines without a meaning: 9\) into .*mine\.index \(1[0-9] headwords\)/);
    // A running server reads <data>/dict only when it starts: the sentence says so.
    expect(said).toMatch(/a server already running offers it after a restart/);
    expect(importedSources(dataDir)).toEqual([{ name: 'mine', path: path.join(dataDir, 'dict', 'mine.index') }]);
    const db = openDatabase(importedSources(dataDir)[0]!);
    expect(db.description).toBe('My words');
    expect(db.index.exact('Zürich').length).toBe(1);
    expect(() => importDatabase(seedTextFile(), { name: 'mine', dataDir, force: false })).toThrow(/already imported/);
    expect(() => importDatabase(seedTextFile(), { name: '../up', dataDir, force: false })).toThrow(/slashes/);
    expect(() => importDatabase('/nonexistent', { name: 'x', dataDir, force: false })).toThrow(/does not exist/);
  });

  it.skipIf(!existsSync(DEBIAN_WN))("copies Debian's dict-wn (.index with .dict.dz) as it is", () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'wharf-import-'));
    const said = importDatabase(DEBIAN_WN, { name: 'wn30', dataDir, force: false });
    expect(said).toMatch(/copied the dictd database wn\.index into .*wn30\.index \(147311 headwords\)/);
    expect(readFileSync(path.join(dataDir, 'dict', 'wn30.dict.dz')).equals(readFileSync('/usr/share/dictd/wn.dict.dz'))).toBe(true);
  });
});
