import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import type { PortalSection } from '../../../src/core/portal.js';
import { loadDatabases } from '../../../src/services/dict/databases.js';
import type { DefineAnswer, HistoryAnswer, MatchAnswer } from '../../../src/services/dict/portal/api-types.js';
import { DictPortalApi } from '../../../src/services/dict/portal/section.js';
import { encodeSaslPlain, type TextReply } from '../../../src/services/dict/protocol.js';
import { createDictState, dictClientCommands } from '../../../src/services/dict/server.js';
import type { Store } from '../../../src/store/index.js';
import { serveSection, type SectionServer } from '../../helpers/portal-section.js';
import { RawDict, seedTextFile, startDict, tempStore, type StartedDict } from './support.js';

let server: StartedDict;
let store: Store;
let section: PortalSection;
let api: SectionServer;

const alice = { name: 'alice', admin: false };
const bob = { name: 'bob', admin: false };

async function get<T>(path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${api.base}${path}`);
  return { status: response.status, body: (await response.json()) as T };
}

beforeAll(async () => {
  store = await tempStore();
  await store.accounts.add('alice', 'alice-pass-1');
  await store.accounts.add('bob', 'bob-pass-1');
  server = await startDict({ databases: [{ name: 'seed', path: seedTextFile() }] }, { store });
  section = server.host.portal.get('dict')!;
  api = await serveSection(section, undefined);
});

afterAll(async () => {
  await api?.close();
  await server?.stop();
  await store?.close();
});

describe("the portal's dictionary section", () => {
  it('is the dict service\'s section: id dict, order 20, open to visitors, withdrawn when the service stops', async () => {
    expect(section).toMatchObject({ id: 'dict', order: 20, needsAccount: false, title: { en: 'Dictionary', zh: '词典' } });
    expect(section.script).toMatch(/dist\/portal\/pages\/dict\.js$/);
    const other = await startDict({ wordnet: false, databases: [{ name: 'seed', path: seedTextFile() }] });
    expect(other.host.portal.get('dict')).toBeDefined();
    await other.stop();
    expect(other.host.portal.get('dict')).toBeUndefined();
  });

  it("gives the portal's home the standard clients' command lines for its addresses", async () => {
    const port = server.port;
    expect(server.service.clientCommands?.().map((c) => c.command)).toEqual([`dict -h 127.0.0.1 -p ${port} WORD`, `dict -h 127.0.0.1 -p ${port} -m -s prefix WORD`, `wharf dict -H 127.0.0.1 -p ${port} WORD`]);
    const tcp = (address: string, p: number) => ({ transport: 'tcp' as const, address, port: p });
    expect(dictClientCommands([tcp('0.0.0.0', 2628)], [tcp('0.0.0.0', 8888)], 'box').map((c) => c.command)).toEqual([
      'dict -h box -p 2628 WORD',
      'dict -h box -p 2628 -m -s prefix WORD',
      'wharf dict -H box -p 2628 WORD',
      'nc box 8888',
    ]);
  });

  it('lists the databases and strategies the DICT server offers', async () => {
    expect((await get('/databases')).body).toEqual({ databases: [{ name: 'wn', description: 'WordNet (r) 3.1 (2011)' }, { name: 'seed', description: 'seed (words.txt)' }] });
    const { body } = await get<{ strategies: Array<{ name: string }>; default: string }>('/strategies');
    expect(body.strategies.map((s) => s.name)).toEqual(['exact', 'prefix', 'nprefix', 'substring', 'suffix', 're', 'regexp', 'soundex', 'lev', 'word', 'first', 'last']);
    expect(body.default).toBe('lev');
  });

  it('matches as DICT MATCH does, per database, limited, Chinese included', async () => {
    const hel = await get<MatchAnswer>('/match?q=hel&limit=5');
    expect(hel.status).toBe(200);
    expect(hel.body).toEqual({ query: 'hel', strategy: 'prefix', matches: [{ database: 'wn', words: ['hel', 'hela', 'held', 'helen', 'helen adams keller'] }] });
    // The same headwords, in the same order, as MATCH over DICT.
    const dict = await RawDict.connect(server.port);
    const viaDict = (await dict.send('MATCH wn prefix hel')).preliminary[0] as TextReply;
    expect(hel.body.matches[0]!.words).toEqual(viaDict.lines.slice(0, 5).map((line) => line.replace(/^wn "(.*)"$/, '$1')));
    dict.destroy();
    // Each database gets its own share of the limit.
    const a = await get<MatchAnswer>('/match?q=a&limit=2');
    expect(a.body.matches).toEqual([{ database: 'wn', words: expect.any(Array) }, { database: 'seed', words: ['abandon'] }]);
    expect(a.body.matches[0]!.words).toHaveLength(2);
    expect((await get<MatchAnswer>(`/match?q=${encodeURIComponent('你')}`)).body.matches).toEqual([{ database: 'seed', words: ['你好'] }]);
    expect((await get<MatchAnswer>('/match?q=zurich&strategy=.&db=seed')).body).toEqual({ query: 'zurich', strategy: 'lev', matches: [] });
    expect((await get<MatchAnswer>('/match?q=hellp&strategy=lev&db=wn')).body.matches[0]!.words).toContain('hello');
    expect((await get<MatchAnswer>('/match?q=llo&strategy=suffix&db=wn&limit=100')).body.matches[0]!.words).toContain('hello');
    const regex = (await get<MatchAnswer>('/match?q=%5Ehell.%24&strategy=re&db=wn')).body.matches[0]!.words;
    expect(regex).toContain('hello');
    for (const word of regex) expect(word).toMatch(/^hell.$/);
  });

  it('defines from every database with its name and description, cross-references as links', async () => {
    const { status, body } = await get<DefineAnswer>('/define?word=hello');
    expect(status).toBe(200);
    expect(body.definitions).toHaveLength(1);
    const [hello] = body.definitions;
    expect(hello).toMatchObject({ database: 'wn', description: 'WordNet (r) 3.1 (2011)', headword: 'hello' });
    expect(hello!.segments[0]).toEqual({ text: expect.stringMatching(/^hello\n {4}n 1: an expression of greeting/) });
    expect(hello!.segments.filter((s) => 'link' in s)).toEqual([
      { link: 'hello', text: 'hello' },
      { link: 'hullo', text: 'hullo' },
      { link: 'hi', text: 'hi' },
      { link: 'howdy', text: 'howdy' },
      { link: 'how-do-you-do', text: 'how-\n         do-you-do' },
    ]);
    expect(body.recorded).toBe(false);
    // Every database: WordNet's "twice", then the seed file's two entries; `!` stops at the first.
    expect((await get<DefineAnswer>('/define?word=twice')).body.definitions.map((d) => d.database)).toEqual(['wn', 'seed', 'seed']);
    expect((await get<DefineAnswer>('/define?word=twice&db=!')).body.definitions.map((d) => d.database)).toEqual(['wn']);
    const chinese = (await get<DefineAnswer>(`/define?word=${encodeURIComponent('你好')}`)).body;
    expect(chinese.definitions.map((d) => [d.database, d.headword, d.segments])).toEqual([['seed', '你好', [{ text: '你好\n    hello (Mandarin greeting)\n' }]]]);
  });

  it('offers lev suggestions when nothing is defined', async () => {
    const { status, body } = await get<DefineAnswer>('/define?word=helo');
    expect(status).toBe(200);
    expect(body.definitions).toEqual([]);
    expect(body.suggestions.find((s) => s.database === 'wn')!.words).toContain('hello');
  });

  it('refuses garbage and oversized queries with 400 (404 for a database it does not have)', async () => {
    const cases: Array<[string, number, string]> = [
      ['/match', 400, 'EBADVALUE'],
      ['/match?q=', 400, 'EBADVALUE'],
      ['/match?q=%20%20', 400, 'EBADVALUE'],
      [`/match?q=${'a'.repeat(201)}`, 400, 'EBADVALUE'],
      [`/define?word=${'字'.repeat(201)}`, 400, 'EBADVALUE'],
      ['/match?q=a%0Ab', 400, 'EBADVALUE'],
      ['/define?word=a%00b', 400, 'EBADVALUE'],
      ['/match?q=a&limit=0', 400, 'EBADVALUE'],
      ['/match?q=a&limit=101', 400, 'EBADVALUE'],
      ['/match?q=a&limit=1e2', 400, 'EBADVALUE'],
      ['/match?q=a&strategy=nosuch', 400, 'ENOSTRAT'],
      ['/define?word=a&db=nosuch', 404, 'ENODB'],
      [`/define?word=a&db=${'x'.repeat(5000)}`, 404, 'ENODB'],
      ['/history?limit=5', 401, 'EAUTH'],
      ['/nosuch', 404, 'EMISSING'],
      // At the limit (characters, not bytes), and bytes that are not UTF-8 (read as U+FFFD): answered.
      [`/define?word=${'字'.repeat(200)}`, 200, ''],
      ['/match?q=%E0%A4%A', 200, ''],
    ];
    for (const [path, status, code] of cases) {
      const answer = await get<{ code?: string; error?: string }>(path);
      expect([path, answer.status], JSON.stringify(answer.body)).toEqual([path, status]);
      if (code !== '') expect(answer.body.code, path).toBe(code);
    }
    const posted = await fetch(`${api.base}/define?word=a`, { method: 'POST' });
    expect([posted.status, posted.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
  });

  it("records a signed-in account's lookups in the one history that DICT's XHISTORY reads; never a visitor's; never another account's", async () => {
    api.user = undefined;
    await get('/define?word=cat');
    api.user = alice;
    for (const word of ['hello', '你好', 'xyzzyq']) expect((await get<DefineAnswer>(`/define?word=${encodeURIComponent(word)}`)).body.recorded).toBe(true);
    await get('/match?q=dog'); // suggestions are not lookups
    api.user = bob;
    await get('/define?word=bird');
    api.user = alice;
    const mine = (await get<HistoryAnswer>('/history')).body.history;
    expect(mine.map((row) => [row.word, row.database])).toEqual([
      ['xyzzyq', '*'],
      ['你好', '*'],
      ['hello', '*'],
    ]);
    expect(Date.parse(mine[0]!.at)).toBeGreaterThan(Date.now() - 60_000);
    expect((await get<HistoryAnswer>('/history?limit=1')).body.history.map((row) => row.word)).toEqual(['xyzzyq']);
    api.user = bob;
    expect((await get<HistoryAnswer>('/history')).body.history.map((row) => row.word)).toEqual(['bird']);
    // The DICT server's own history command sees the portal's lookups: one store.
    const dict = await RawDict.connect(server.port);
    expect((await dict.send(`SASLAUTH PLAIN ${encodeSaslPlain('alice', 'alice-pass-1')}`)).final.code).toBe(230);
    await dict.send('DEFINE wn tree');
    const lines = ((await dict.send('XHISTORY')).preliminary.find((r) => r.code === 160) as TextReply).lines;
    expect(lines.map((line) => line.split(' ')[1])).toEqual(['tree', 'xyzzyq', '你好', 'hello']);
    dict.destroy();
    api.user = alice;
    expect((await get<HistoryAnswer>('/history')).body.history[0]!.word).toBe('tree');
    api.user = undefined;
  });
});

describe('regular expressions and load, bounded as the DICT server bounds them', () => {
  const databases = loadDatabases({ wordnet: true });

  async function sectionWith(limits: ConstructorParameters<typeof DictPortalApi>[2], regexTimeLimitMs = 2_000): Promise<SectionServer> {
    const state = createDictState({ databases, limits: { regexTimeLimitMs } });
    return serveSection(new DictPortalApi(state, silentLogger(), limits).section(), undefined);
  }

  it('records no lookup that a page elsewhere on this host made the browser ask for (Sec-Fetch-Site: same-site, cross-site): SameSite cookies still go with an <img> from another port', async () => {
    api.user = bob;
    for (const site of ['same-site', 'cross-site']) {
      const answer = await fetch(`${api.base}/define?word=planted`, { headers: { 'Sec-Fetch-Site': site } });
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as DefineAnswer).recorded, site).toBe(false);
    }
    const own = await fetch(`${api.base}/define?word=chosen`, { headers: { 'Sec-Fetch-Site': 'same-origin' } });
    expect(((await own.json()) as DefineAnswer).recorded).toBe(true);
    const words = (await get<HistoryAnswer>('/history')).body.history.map((row) => row.word);
    expect(words[0]).toBe('chosen');
    expect(words).not.toContain('planted');
    api.user = undefined;
  });

  it('runs catastrophic patterns in linear time, refuses patterns too large to run, and stops at the CPU budget', async () => {
    for (const pattern of ['^(a+)+$', '^(x+x+)+z$', '(a|aa)*b', '(.*a){20}']) {
      const started = performance.now();
      const response = await fetch(`${api.base}/match?q=${encodeURIComponent(pattern)}&strategy=re&db=wn`);
      expect(response.status, pattern).toBe(200);
      expect(performance.now() - started, pattern).toBeLessThan(3_000);
    }
    const large = await get<{ code: string; error: string }>(`/match?q=${encodeURIComponent('((a{100}){100}){100}')}&strategy=re`);
    expect([large.status, large.body.code]).toEqual([400, 'EBADVALUE']);
    expect(large.body.error).toMatch(/^bad regular expression: the pattern is too large/);
    expect((await get<{ error: string }>(`/match?q=${encodeURIComponent('(a)\\1')}&strategy=re`)).body.error).toMatch(/back-references/);

    const tight = await sectionWith({}, 1);
    const slow = await fetch(`${tight.base}/match?q=${encodeURIComponent('(a|b|c|d|e|f)*(g|h)+[^q]*z$')}&strategy=re`);
    expect(slow.status).toBe(400);
    expect(((await slow.json()) as { error: string }).error).toMatch(/took more than 1 ms/);
    await tight.close();
  });

  // A pattern whose automaton WordNet's headwords keep rebuilding: a few hundred ms of scanning, in 5 ms slices.
  const SLOW = encodeURIComponent('.*[ae].{12}q$');

  it('runs a bounded number of regular-expression scans at once (503 past it), each within a wall-clock deadline', async () => {
    const one = await sectionWith({ regexInFlight: 1 }, 10_000);
    const answers = await Promise.all([0, 1, 2].map(() => fetch(`${one.base}/match?q=${SLOW}&strategy=re`).then((r) => r.status)));
    expect(answers.sort()).toEqual([200, 503, 503]);
    await one.close();

    const hurried = await sectionWith({ regexDeadlineMs: 30 }, 10_000);
    const late = await fetch(`${hurried.base}/match?q=${SLOW}&strategy=re`);
    expect(late.status).toBe(503);
    expect(((await late.json()) as { error: string }).error).toMatch(/took longer than 30 ms/);
    // The slot is given back: the next scan runs.
    expect((await fetch(`${hurried.base}/match?q=%5Ea&strategy=re&limit=1`)).status).toBe(200);
    await hurried.close();
  });

  it('limits requests per address (429)', async () => {

    const slowly = await sectionWith({ requestsPerSecond: 0.01, requestBurst: 3 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${slowly.base}/strategies`)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    await slowly.close();
  });
});
