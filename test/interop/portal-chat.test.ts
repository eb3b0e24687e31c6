/**
 * The portal's chat page in Chromium (issue #19, item 2), against the whole portal (the web
 * service and the chat in one host, as `wharf serve` runs them) and a seed-protocol UDP client
 * driven from the test: what the seed client says appears in the page and what the page says
 * reaches it, Chinese and emoji intact, private messages, markup in names and texts shown as
 * text, reconnecting with catch-up (each message once), a second tab taking over, a phone's
 * width, and a WebSocket from another origin refused.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import WebSocket from 'ws';
import { chatService } from '../../src/services/chat/index.js';
import type { RunningChat } from '../../src/services/chat/server.js';
import { browserMissing, launchBrowser, newPerson } from '../helpers/browser.js';
import { signIn, startPortal, type StartedPortal } from '../helpers/portal.js';
import { SeedPeer } from '../services/chat/support.js';

/** What the functions evaluated in the page read there (this file is typed without the DOM). */
interface BrowserGlobals {
  document: { documentElement: { dataset: Record<string, string | undefined>; scrollWidth: number } };
  __pwned?: unknown;
  __result?: string;
}

const XSS = '<img src=x onerror="window.__pwned=1">';

/** A TCP relay in front of the portal: `cut()` ends every connection through it (the network drops). */
class Relay {
  readonly sockets = new Set<net.Socket>();
  refusing = false;
  readonly server: net.Server;

  constructor(targetPort: number) {
    this.server = net.createServer((client) => {
      if (this.refusing) return void client.destroy();
      const upstream = net.connect(targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          this.sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  cut(): void {
    this.refusing = true;
    for (const socket of this.sockets) socket.destroy();
  }

  close(): void {
    this.cut();
    this.server.close();
  }
}

describe.skipIf(browserMissing !== undefined)(`the portal's chat page in Chromium${browserMissing === undefined ? '' : ` (skipped: ${browserMissing})`}`, () => {
  let portal: StartedPortal;
  let browser: Browser;
  let udpPort: number;
  const seeds: SeedPeer[] = [];

  beforeAll(async () => {
    portal = await startPortal({
      services: [{ definition: chatService }],
      accounts: [
        { name: 'alice', password: 'secret' },
        { name: 'bob', password: 'secret2' },
      ],
    });
    const chat = portal.services.get('chat') as RunningChat;
    udpPort = chat.addresses.find((a) => a.transport === 'udp')!.port;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    for (const seed of seeds) seed.close();
    await browser?.close();
    await portal?.stop();
  });

  async function seed(name: string): Promise<SeedPeer> {
    const peer = await SeedPeer.open(udpPort);
    seeds.push(peer);
    expect(await peer.login(name)).toBe('OK');
    return peer;
  }

  async function chatPage(name: string, password: string, options: { locale?: string; phone?: boolean; url?: string } = {}): Promise<Page> {
    const context = await newPerson(browser, options);
    const page = await context.newPage();
    const url = options.url ?? portal.url;
    await signIn(page, { url }, name, password);
    const started = Date.now();
    await page.goto(`${url}/chat`);
    await page.locator('.chat-status[data-state=open]').waitFor();
    // Measured for docs/portal.md: from asking for /chat to the room's history shown and live.
    console.log(`/chat connected and caught up ${Date.now() - started} ms after it was asked for (${options.phone === true ? 'phone' : 'desktop'})`);
    return page;
  }

  /** With PORTAL_SCREENSHOTS=DIR, the page is saved there (docs/portal.md shows them). */
  async function screenshot(page: Page, name: string): Promise<void> {
    const dir = process.env.PORTAL_SCREENSHOTS;
    if (dir !== undefined && dir !== '') await page.screenshot({ path: `${dir}/${name}.png` });
  }

  const pwned = (page: Page) => page.evaluate(() => (globalThis as unknown as BrowserGlobals).__pwned);

  it('a seed client and the page talk both ways, Chinese and emoji intact, markup shown as text', async () => {
    const xiaohong = await seed('<b>小红<b>');
    const page = await chatPage('alice', 'secret');
    await xiaohong.waitForLine('欢迎 alice 进入聊天室');
    // The seed client's name is in the member list, as text.
    await page.locator('.chat-members button', { hasText: '<b>小红<b>' }).waitFor();

    xiaohong.send(`C <b>小红<b> 你好 alice 🐳👩🏽‍💻 ${XSS}`);
    const line = page.locator('.chat-log li', { hasText: `你好 alice 🐳👩🏽‍💻 ${XSS}` });
    await line.waitFor();
    expect(await line.locator('.chat-from').textContent()).toBe('<b>小红<b>');
    expect(await page.locator('.chat-log img, .chat-log b, .chat-members b').count()).toBe(0);

    await page.locator('#chat-input').fill(`from the page 中文 😀🇨🇳 <script>window.__pwned=2</script>`);
    await page.locator('#chat-input').press('Enter');
    await xiaohong.waitForLine('alice : from the page 中文 😀🇨🇳 <script>window.__pwned=2</script>');
    await page.locator('.chat-log li', { hasText: 'from the page 中文 😀🇨🇳' }).waitFor();
    expect(await page.locator('#chat-input').inputValue()).toBe('');

    // A private message: click the member, type, Enter.
    await page.locator('.chat-members button', { hasText: '<b>小红<b>' }).click();
    expect(await page.locator('#chat-input').inputValue()).toBe('/msg <b>小红<b> ');
    await page.locator('#chat-input').press('End');
    await page.locator('#chat-input').pressSequentially('只给你 🤫');
    await page.locator('#chat-input').press('Enter');
    await xiaohong.waitForLine('alice (私聊) : 只给你 🤫');
    await page.locator('.chat-log li.chat-pm', { hasText: '只给你 🤫' }).waitFor();
    expect(await pwned(page)).toBeUndefined();
    await screenshot(page, 'chat-desktop');
    await page.context().close();
  });

  it('reconnects by itself after the connection drops and shows what it missed, each message once, the room seeing no leave', async () => {
    const relay = new Relay(new URL(portal.url).port === '' ? 80 : Number(new URL(portal.url).port));
    const url = await relay.listen();
    try {
      const xiaoming = await seed('小明');
      const page = await chatPage('bob', 'secret2', { url });
      xiaoming.send('C 小明 before the drop');
      await page.locator('.chat-log li', { hasText: 'before the drop' }).waitFor();
      relay.cut();
      await page.locator('.chat-status[data-state=closed]').waitFor();
      for (let i = 1; i <= 3; i++) xiaoming.send(`C 小明 while away ${i}`);
      relay.refusing = false;
      await page.locator('.chat-status[data-state=open]').waitFor({ timeout: 15_000 });
      await page.locator('.chat-log li', { hasText: 'while away 3' }).waitFor();
      xiaoming.send('C 小明 after');
      await page.locator('.chat-log li', { hasText: 'after' }).waitFor();
      const seqs = await page.locator('.chat-log li[data-seq]').evaluateAll((items) => items.map((li) => Number(li.getAttribute('data-seq'))));
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      // The page came back within the grace: the room never saw bob leave.
      expect(xiaoming.lines.filter((line) => line.startsWith('bob 退出了群聊'))).toEqual([]);
      for (const text of ['before the drop', 'while away 1', 'while away 2', 'while away 3', 'after']) {
        expect(await page.locator('.chat-log li', { hasText: text }).count(), text).toBe(1);
      }
      await page.context().close();
    } finally {
      relay.close();
    }
  });

  it('a second tab takes the chat over; the first says so and can take it back', async () => {
    const first = await chatPage('alice', 'secret');
    const second = await first.context().newPage();
    await second.goto(`${portal.url}/chat`);
    await second.locator('.chat-status[data-state=open]').waitFor();
    await first.locator('.chat-status[data-state=replaced]').waitFor();
    await first.getByRole('button', { name: 'Use the chat here' }).click();
    await first.locator('.chat-status[data-state=open]').waitFor();
    await second.locator('.chat-status[data-state=replaced]').waitFor();
    await first.context().close();
  });

  it('works at a phone\'s width, in Chinese, without sideways scrolling', async () => {
    const page = await chatPage('bob', 'secret2', { phone: true, locale: 'zh-CN' });
    expect(await page.locator('.chat-status').textContent()).toBe('已连接');
    await page.locator('#chat-input').fill('手机上的消息 📱');
    await page.getByRole('button', { name: '发送' }).click();
    await page.locator('.chat-log li', { hasText: '手机上的消息 📱' }).waitFor();
    expect(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const input = await page.locator('#chat-input').boundingBox();
    expect(input!.x + input!.width).toBeLessThanOrEqual(390);
    await screenshot(page, 'chat-phone');
    await page.context().close();
  });

  it('refuses a WebSocket from a page of another origin, and from a client naming another Origin', async () => {
    const socketUrl = `${portal.url.replace(/^http/, 'ws')}/portal/api/chat/socket`;
    // The other site is on the same host (another port): the browser even sends the portal's cookies.
    const other = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><script>
        const ws = new WebSocket(${JSON.stringify(socketUrl)});
        window.__result = 'pending';
        ws.onopen = () => { window.__result = 'opened'; };
        ws.onmessage = (event) => { window.__result = 'message ' + event.data; };
        ws.onclose = (event) => { if (window.__result === 'pending') window.__result = 'closed ' + event.code; };
      </script>`);
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const page = await chatPage('alice', 'secret');
      await page.goto(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`);
      await expect.poll(() => page.evaluate(() => (globalThis as unknown as BrowserGlobals).__result)).toMatch(/^closed/);
      await page.context().close();
    } finally {
      other.close();
    }
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(socketUrl, { origin: 'http://evil.example' });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('a foreign Origin was let in')));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(403);
  });
});
