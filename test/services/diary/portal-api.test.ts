import { afterEach, describe, expect, it } from 'vitest';
import { PortalRegistry } from '../../../src/core/portal.js';
import { DiaryServer, diaryConfigSchema } from '../../../src/services/diary/server.js';
import { allEntries, openClient, seedSocket, stopAll } from './support.js';
import { ALICE, BOB, call, closeSections, entries, startPortalDiary } from './portal-support.js';

afterEach(async () => {
  await closeSections();
  await stopAll();
});

describe("the portal's diary API", () => {
  it("writes and reads the account's own diary and the public one; another account never sees alice's", async () => {
    const portal = await startPortalDiary(ALICE);
    expect((await call(portal, 'POST', '/entries', { diary: 'mine', text: '我的第一篇 📔\n第二行' })).status).toBe(201);
    const written = await call(portal, 'POST', '/entries', { diary: 'public', text: 'hello, everyone' });
    expect(written.status).toBe(201);
    expect(written.body).toMatchObject({ entry: { text: 'hello, everyone', by: 'alice' } });

    const mine = await entries(portal, 'diary=mine');
    expect(mine.entries.map((e) => e.text)).toEqual(['我的第一篇 📔\n第二行']);
    expect(mine.canWrite).toBe(true);
    const open = await entries(portal, 'diary=public');
    expect(open.entries).toEqual([expect.objectContaining({ text: 'hello, everyone', by: 'alice' })]);

    portal.http.user = BOB;
    expect((await entries(portal, 'diary=mine')).entries).toEqual([]);
    expect((await entries(portal, 'diary=public')).entries.map((e) => e.text)).toEqual(['hello, everyone']);
    // No request names another account's diary.
    for (const name of ['alice', '', 'Alice', '../alice']) {
      const refused = await call(portal, 'GET', `/entries?diary=${encodeURIComponent(name)}`);
      expect(refused.status).toBe(400);
      expect(refused.body.code).toBe('EBADVALUE');
      expect(JSON.stringify(refused.body)).not.toContain('我的第一篇');
    }
    expect((await call(portal, 'POST', '/entries', { diary: 'alice', text: 'into her diary' })).status).toBe(400);

    // The same store as the UDP server: the rows are the ones wharf's client reads.
    const rows = await allEntries(portal.store);
    expect(rows.map((r) => [r.diary, r.text, r.account])).toEqual([
      ['alice', '我的第一篇 📔\n第二行', 'alice'],
      ['', 'hello, everyone', 'alice'],
    ]);
    const client = await openClient(portal.port);
    await client.login('alice', 'alice-password');
    expect((await client.read({ diary: 'alice' })).map((e) => e.text)).toEqual(['我的第一篇 📔\n第二行']);
  });

  it('lets a visitor read and write the public diary as a seed client can, but not a diary of their own', async () => {
    const portal = await startPortalDiary(undefined);
    const seed = await seedSocket(portal.port);
    await seed.ask('from the seed client');
    expect((await call(portal, 'POST', '/entries', { diary: 'public', text: 'from a visitor' })).status).toBe(201);
    const open = await entries(portal, 'diary=public');
    expect(open.canWrite).toBe(true);
    // The writer's address is never shown, only an account's name.
    expect(open.entries).toEqual([
      { id: expect.any(Number), t: expect.any(Number), text: 'from a visitor' },
      { id: expect.any(Number), t: expect.any(Number), text: 'from the seed client' },
    ]);
    const rows = await allEntries(portal.store);
    expect(rows.at(-1)).toMatchObject({ account: null, address: '127.0.0.1' });
    for (const request of [call(portal, 'GET', '/entries?diary=mine'), call(portal, 'POST', '/entries', { diary: 'mine', text: 'x' }), call(portal, 'GET', '/events?diary=mine')]) {
      const refused = await request;
      expect(refused.status).toBe(401);
      expect(refused.body.code).toBe('EAUTH');
    }
  });

  it('keeps visitors out of the public diary when portalAnonymousWrite is off', async () => {
    const portal = await startPortalDiary(undefined, { portalAnonymousWrite: false });
    expect((await entries(portal, 'diary=public')).canWrite).toBe(false);
    const refused = await call(portal, 'POST', '/entries', { diary: 'public', text: 'not allowed' });
    expect(refused.status).toBe(401);
    expect(await allEntries(portal.store)).toEqual([]);
  });

  it("refuses what the UDP protocol refuses: empty, too long, not UTF-8; and bodies that are too large or not JSON", async () => {
    const portal = await startPortalDiary(ALICE, { maxEntryBytes: 64 });
    const refusal = async (body: unknown, headers: Record<string, string> = {}) => {
      const answer = await call(portal, 'POST', '/entries', body, headers);
      return [answer.status, answer.body.code];
    };
    expect(await refusal({ diary: 'mine', text: '' })).toEqual([400, 'EEMPTY']);
    expect(await refusal({ diary: 'mine', text: ' \n\t ' })).toEqual([400, 'EEMPTY']);
    // 22 three-byte characters: 66 bytes of UTF-8 for 22 characters.
    expect(await refusal({ diary: 'mine', text: '日'.repeat(22) })).toEqual([413, 'ETOOLONG']);
    expect((await call(portal, 'POST', '/entries', { diary: 'mine', text: '日'.repeat(21) })).status).toBe(201);
    // Raw bytes that are not UTF-8 (GBK for 日记), and a lone surrogate spelled as a JSON escape.
    const gbk = Buffer.concat([Buffer.from('{"diary":"mine","text":"'), Buffer.from([0xc8, 0xd5, 0xbc, 0xc7]), Buffer.from('"}')]);
    expect(await refusal(gbk)).toEqual([400, 'EENCODING']);
    expect(await refusal('{"diary":"mine","text":"\\ud800"}')).toEqual([400, 'EENCODING']);
    expect(await refusal(JSON.stringify({ diary: 'mine', text: 'x'.repeat(1024 * 1024) }))).toEqual([413, 'ETOOLONG']);
    expect(await refusal('{"diary":"mine",')).toEqual([400, 'EBADVALUE']);
    expect(await refusal('diary=mine&text=hi', { 'Content-Type': 'application/x-www-form-urlencoded' })).toEqual([400, 'EBADVALUE']);
    expect(await refusal({ diary: 'mine', text: 42 })).toEqual([400, 'EBADVALUE']);
    expect(await refusal(['mine', 'text'])).toEqual([400, 'EBADVALUE']);
    expect((await allEntries(portal.store)).map((r) => r.text)).toEqual(['日'.repeat(21)]);
    expect((await call(portal, 'DELETE', '/entries')).status).toBe(405);
    expect((await call(portal, 'GET', '/nothing')).status).toBe(404);
    expect((await call(portal, 'GET', '/entries?diary=public&limit=0')).status).toBe(400);
    expect((await call(portal, 'GET', '/entries?diary=public&before=-1')).status).toBe(400);
  });

  it('rate-limits writes per account (and per address for visitors)', async () => {
    const portal = await startPortalDiary(ALICE, { portalWritesPerSecond: 0.01, portalWriteBurst: 3 });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await call(portal, 'POST', '/entries', { diary: 'public', text: `entry ${i}` })).status);
    expect(statuses).toEqual([201, 201, 201, 429, 429]);
    portal.http.user = BOB;
    expect((await call(portal, 'POST', '/entries', { diary: 'public', text: 'bob has his own budget' })).status).toBe(201);
    expect(await allEntries(portal.store)).toHaveLength(4);
  });

  it('pages newest first with before=, and reads what is newer with after=', async () => {
    const portal = await startPortalDiary(ALICE);
    const seed = await seedSocket(portal.port);
    for (let i = 1; i <= 7; i++) await seed.ask(`entry ${i}`);
    const first = await entries(portal, 'diary=public&limit=3');
    expect(first.entries.map((e) => e.text)).toEqual(['entry 7', 'entry 6', 'entry 5']);
    expect(first.more).toBe(true);
    const second = await entries(portal, `diary=public&limit=3&before=${first.entries.at(-1)!.id}`);
    expect(second.entries.map((e) => e.text)).toEqual(['entry 4', 'entry 3', 'entry 2']);
    const last = await entries(portal, `diary=public&limit=3&before=${second.entries.at(-1)!.id}`);
    expect(last.entries.map((e) => e.text)).toEqual(['entry 1']);
    expect(last.more).toBe(false);
    const newer = await entries(portal, `diary=public&limit=2&after=${last.entries[0]!.id}`);
    expect(newer.entries.map((e) => e.text)).toEqual(['entry 3', 'entry 2']);
    expect(newer.more).toBe(true);
    expect((await entries(portal, `diary=public&after=${first.entries[0]!.id}`)).entries).toEqual([]);
    expect((await call(portal, 'GET', `/entries?diary=public&before=1&after=1`)).status).toBe(400);
  });

  it('offers its section while it runs and the commands of standard clients', async () => {
    const fixture = await startPortalDiary(ALICE);
    const registry = new PortalRegistry();
    const server = await DiaryServer.start({ store: fixture.store, config: diaryConfigSchema.parse({ port: 0 }), portal: registry });
    const section = registry.get('diary');
    expect(section).toMatchObject({ id: 'diary', order: 40, needsAccount: false, title: { en: 'Diary', zh: '日记' } });
    expect(section!.script).toMatch(/dist\/portal\/pages\/diary\.js$/);
    const commands = server.clientCommands().map((c) => c.command);
    expect(commands).toContain(`wharf diary -p ${server.port}`);
    expect(commands).toContain(`wharf diary read -p ${server.port} -u NAME`);
    expect(commands).toContain(`nc -u 127.0.0.1 ${server.port}`);
    await server.stop();
    expect(registry.get('diary')).toBeUndefined();
  });
});
