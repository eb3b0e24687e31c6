import { afterEach, describe, expect, it } from 'vitest';
import { DiaryStore } from '../../../src/services/diary/diary-store.js';
import { allEntries, openClient, seedSocket, stopAll } from './support.js';
import { ALICE, BOB, call, closeSections, dataOf, entries, openEvents, startPortalDiary } from './portal-support.js';

afterEach(async () => {
  await closeSections();
  await stopAll();
});

describe("the portal's live diary (Server-Sent Events)", () => {
  it('delivers an entry a seed client writes over UDP, and one wharf diary writes, to the streams of that diary only', async () => {
    const portal = await startPortalDiary(ALICE);
    const publicStream = await openEvents(portal, 'diary=public&after=0');
    const aliceStream = await openEvents(portal, 'diary=mine&after=0');
    portal.http.user = BOB;
    const bobStream = await openEvents(portal, 'diary=mine&after=0');
    expect(publicStream.status).toBe(200);
    expect(publicStream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(publicStream.headers['cache-control']).toBe('no-store');

    const seed = await seedSocket(portal.port);
    await seed.ask('来自 UDP 的日记 🚀');
    const [event] = await publicStream.waitForEvents(1);
    expect(event!.event).toBe('entry');
    const [row] = await allEntries(portal.store);
    expect(event!.id).toBe(String(row!.id));
    expect(dataOf(event!)).toEqual({ id: row!.id, t: expect.any(Number), text: '来自 UDP 的日记 🚀' });

    // wharf's own client, logged in as alice, writing her diary.
    const client = await openClient(portal.port);
    await client.login('alice', 'alice-password');
    await client.write('alice over wharf diary', { diary: 'alice' });
    const [own] = await aliceStream.waitForEvents(1);
    expect(dataOf(own!)).toMatchObject({ text: 'alice over wharf diary', by: 'alice' });

    // Another browser (the API) writing the public diary reaches the public stream.
    expect((await call(portal, 'POST', '/entries', { diary: 'public', text: 'bob in the page' })).status).toBe(201);
    await publicStream.waitForEvents(2);
    expect(dataOf(publicStream.events[1]!)).toMatchObject({ text: 'bob in the page', by: 'bob' });

    // Nothing crossed over: bob's stream saw nothing, the public one nothing of alice's diary.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(bobStream.events).toEqual([]);
    expect(publicStream.events.map((e) => dataOf(e).text)).toEqual(['来自 UDP 的日记 🚀', 'bob in the page']);
    expect(aliceStream.events).toHaveLength(1);
    for (const stream of [publicStream, aliceStream, bobStream]) stream.close();
  });

  it('catches up from Last-Event-ID after a disconnect: what was written meanwhile, once each, in order', async () => {
    const portal = await startPortalDiary(undefined);
    const seed = await seedSocket(portal.port);
    await seed.ask('before the page');
    const page = await entries(portal, 'diary=public');
    const first = await openEvents(portal, `diary=public&after=${page.entries[0]!.id}`);
    await seed.ask('seen live');
    const [live] = await first.waitForEvents(1);
    expect(dataOf(live!).text).toBe('seen live');
    first.close();
    await first.ended;

    await seed.ask('missed 1');
    await seed.ask('missed 2');
    // The URL still says after=<first id>: Last-Event-ID wins, so "seen live" is not sent again.
    const again = await openEvents(portal, `diary=public&after=${page.entries[0]!.id}`, { 'Last-Event-ID': live!.id! });
    await again.waitForEvents(2);
    await seed.ask('live again');
    await again.waitForEvents(3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(again.events.map((e) => dataOf(e).text)).toEqual(['missed 1', 'missed 2', 'live again']);
    const ids = again.events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    again.close();
  });

  it('tells a page that missed more than a catch-up sends to reload, then goes on live', async () => {
    const portal = await startPortalDiary(undefined, { portalMaxCatchUp: 3 });
    const seed = await seedSocket(portal.port);
    await seed.ask('seen');
    const [seen] = (await entries(portal, 'diary=public')).entries;
    for (let i = 1; i <= 4; i++) await seed.ask(`missed ${i}`);
    const stream = await openEvents(portal, 'diary=public', { 'Last-Event-ID': String(seen!.id) });
    await stream.waitFor(() => stream.events.some((e) => e.event === 'reset'));
    await seed.ask('after the reset');
    await stream.waitFor(() => stream.events.some((e) => e.event === 'entry'));
    expect(stream.events.map((e) => (e.event === 'entry' ? dataOf(e).text : e.event))).toEqual(['reset', 'after the reset']);
    // Exactly three missed: sent one by one.
    const three = await openEvents(portal, 'diary=public', { 'Last-Event-ID': String(seen!.id + 2) });
    await three.waitForEvents(3);
    expect(three.events.map((e) => dataOf(e).text)).toEqual(['missed 3', 'missed 4', 'after the reset']);
    stream.close();
    three.close();
  });

  it('finds entries another process stored (not through this writer) by polling the store', async () => {
    const portal = await startPortalDiary(undefined, { portalPollMs: 100 });
    const stream = await openEvents(portal, 'diary=public&after=0');
    // As `wharf diary import` or a second worker would: straight into the store.
    await new DiaryStore(portal.store).importEntries('', [{ ms: Date.now(), text: 'imported elsewhere' }]);
    await stream.waitForEvents(1, 3_000);
    expect(dataOf(stream.events[0]!).text).toBe('imported elsewhere');
    stream.close();
  });

  it('misses nothing written between the page reading its list and opening the stream (after=)', async () => {
    const portal = await startPortalDiary(undefined);
    const seed = await seedSocket(portal.port);
    const page = await entries(portal, 'diary=public');
    expect(page.entries).toEqual([]);
    await seed.ask('written in between');
    const stream = await openEvents(portal, 'diary=public&after=0');
    await stream.waitForEvents(1);
    expect(dataOf(stream.events[0]!).text).toBe('written in between');
    stream.close();
  });

  it('sends heartbeat comments, tells the page when the diary is cleared, and caps streams per account', async () => {
    const portal = await startPortalDiary(ALICE, { portalHeartbeatMs: 100, portalMaxStreamsPerClient: 2, anonymousClear: true });
    const one = await openEvents(portal, 'diary=public');
    const two = await openEvents(portal, 'diary=mine');
    await one.waitFor(() => one.comments.includes('ping'), 2_000);

    const third = await openEvents(portal, 'diary=public');
    expect(third.status).toBe(429);
    expect(JSON.parse(await third.body())).toMatchObject({ code: 'ETHROTTLED' });
    // Another account has its own allowance.
    portal.http.user = BOB;
    const bobs = await openEvents(portal, 'diary=public');
    expect(bobs.status).toBe(200);
    portal.http.user = ALICE;
    two.close();
    await two.ended;
    await new Promise((resolve) => setTimeout(resolve, 50));
    const replacement = await openEvents(portal, 'diary=public');
    expect(replacement.status).toBe(200);

    const seed = await seedSocket(portal.port);
    await seed.ask('soon gone');
    await one.waitForEvents(1);
    expect(await seed.ask('-c')).toContain('初始化完毕');
    await one.waitFor(() => one.events.some((e) => e.event === 'cleared'));
    for (const stream of [one, bobs, replacement]) stream.close();
  });

  it('does not count a stream whose reader left before it was opened', async () => {
    const portal = await startPortalDiary(ALICE, { portalMaxStreamsPerClient: 1 });
    const gone = { writeHead: () => gone, write: () => true, once: () => gone, end: () => undefined, destroyed: true, writableLength: 0 };
    const req = { socket: { destroyed: true }, headers: {} };
    portal.server.feed.open(req as never, gone as never, { diary: '', client: 'account:alice', after: undefined });
    expect(portal.server.feed.size).toBe(0);
    // Its place is free: alice's one allowed stream opens.
    const stream = await openEvents(portal, 'diary=public');
    expect(stream.status).toBe(200);
    stream.close();
  });

  it('ends every stream when the service stops', async () => {
    const portal = await startPortalDiary(ALICE);
    const stream = await openEvents(portal, 'diary=public');
    expect(portal.server.feed.size).toBe(1);
    await portal.server.stop();
    await stream.ended;
    expect(portal.server.feed.size).toBe(0);
  });
});
