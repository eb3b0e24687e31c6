/**
 * Seed 003, in its order (its programs are Python 2): the raw-socket HTTP client against `wharf web
 * serve`; `wharf echo` against the TCP servers the page tests with telnet; the simplest UDP
 * client; then the network diary's clients (S10), the first one and the last, and a Python 3
 * port of the last, against `wharf diary serve`. (The diary's servers have no wharf client:
 * `wharf diary` speaks wharf's own diary protocol.)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiaryClient } from '../../src/services/diary/client.js';
import { READ_FOOTER, READ_HEADER, SEED_REPLIES } from '../../src/services/diary/protocol.js';
import { runWharf, startWharf, tempDataDir, type RunningWharf } from '../helpers/cli.js';
import { runTool } from '../helpers/tools.js';
import { openClient, startDiary, stopAll } from '../services/diary/support.js';
import { killPrograms, noPython2, noPython3, program, PROGRAMS, python2, skipped, startSeedServer } from './support.js';

const seedPrograms = PROGRAMS;
const skip2 = skipped(noPython2);

afterAll(() => killPrograms());

describe.skipIf(noPython2)(`seed 003 一: the raw-socket HTTP client against \`wharf web serve\`${skip2}`, () => {
  let web: RunningWharf;
  const page = '<!doctype html>\n<title>芝麻星</title>\n<h1>芝麻星的首页</h1>\n';
  beforeAll(async () => {
    const root = join(tempDataDir(), 'www');
    mkdirSync(root);
    writeFileSync(join(root, 'index.html'), page);
    web = await startWharf(['web', 'serve', '--port', '0', '--root', root, '--access-log', 'off'], { expectLines: 1 });
  });
  afterAll(() => web?.stop());

  const get = (version?: string) =>
    runTool(python2!, [program('http_client_003.py'), '127.0.0.1', String(web.port('web', 'tcp')), ...(version ? [version] : [])], { timeoutMs: 10_000 });

  it('as printed (GET / HTTP/1.1, no Host): a whole 400 answer whose page says why, as nginx would refuse it', async () => {
    const result = await get();
    expect(result.code).toBe(0);
    const out = result.stdout.toString('utf8');
    expect(out).toMatch(/^socket Created\nConnecting 127\.0\.0\.1:127\.0\.0\.1\nMessage Send Successfully\.\nHTTP\/1\.1 400 Bad Request\r\n/);
    const length = Number(/^content-length: (\d+)\r$/im.exec(out)?.[1]);
    const body = out.slice(out.indexOf('\r\n\r\n') + 4).replace(/\n$/, ''); // print adds the last \n
    // One recv(4096) held the whole answer: the head and every byte of the page.
    expect(Buffer.byteLength(body)).toBe(length);
    expect(body).toContain('This request cannot be served: an HTTP/1.1 request needs a Host header.');
  });

  it('the same request as HTTP/1.0 (no Host needed) gets the page', async () => {
    const result = await get('HTTP/1.0');
    const out = result.stdout.toString('utf8');
    expect(out).toContain('Message Send Successfully.\nHTTP/1.1 200 OK\r\n');
    expect(out.endsWith(`\r\n\r\n${page}\n`)).toBe(true);
  });
});

describe.skipIf(noPython2)(`seed 003 一: the TCP servers the page tests with telnet${skip2}`, { concurrent: true }, () => {
  it('`wharf echo --greeting` reads the thread-per-client server\'s Welcome line, then 收到！ + each line', async () => {
    const { server, port } = await startSeedServer(python2!, 'thread_server_003.py', 'tcp');
    const result = await runWharf(['echo', '-p', String(port), '--greeting'], { input: 'hehe\n你好\n' });
    expect(result.stdout).toBe('Welcome to the server.Tpye something and hit enter\n收到！hehe\n收到！你好\n');
    await server.waitFor(/^Connected with 127\.0\.0\.1:\d+$/m);
  });

  it('`wharf echo send` gets 收到！ + its line from the server that answers one message per connection', async () => {
    const { port } = await startSeedServer(python2!, 'loop_server_003.py', 'tcp');
    for (const text of ['haha', 'nice']) {
      const result = await runWharf(['echo', 'send', '-p', String(port), text]);
      expect(result.stdout).toBe(`收到！${text}\n`);
    }
  });
});

describe.skipIf(noPython2)(`seed 003 三: the simplest UDP client${skip2}`, { concurrent: true }, () => {
  it('its one datagram is shown by `wharf echo serve --print`, as the seed\'s server prints it', async () => {
    const server = await startWharf(['echo', 'serve', '--port', '0', '--no-tcp', '--print'], { expectLines: 1 });
    try {
      let printed = '';
      server.child.stdout.on('data', (d: Buffer) => (printed += d.toString('utf8')));
      const result = await runTool(python2!, [program('udp_client_003.py'), '127.0.0.1', String(server.port('echo', 'udp'))]);
      expect(result.code).toBe(0);
      for (let i = 0; i < 250 && !printed.includes('Holy'); i++) await new Promise((r) => setTimeout(r, 20));
      expect(printed).toMatch(/^From \('127\.0\.0\.1', \d+\) : Holy Guido! It's working\.$/m);
    } finally {
      await server.stop();
    }
  });
});
const STAMP = String.raw`\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\]`;

/** What the seed client prints for a session: the address, the diary, then one answer per line. */
function expectSession(stdout: string, diaryLines: string[], typed: Array<[string, RegExp | string]>): void {
  let expected = `127.0.0.1\n${READ_HEADER}\n${diaryLines.map((l) => `${l}\n`).join('')}${READ_FOOTER}\n`;
  const pattern: string[] = [escape(expected)];
  for (const [, answer] of typed) pattern.push(escape('输入>'), typeof answer === 'string' ? escape(answer) : answer.source, '\\n');
  pattern.push(escape('输入>'));
  expected = `^${pattern.join('')}$`;
  expect(stdout).toMatch(new RegExp(expected));
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe.skipIf(noPython2)(`seed 003 四: the first diary client (最简单的框架)${skip2}`, () => {
  afterAll(() => stopAll());

  it('sends one typed line and waits for nothing; the line is in the diary', async () => {
    const { port } = await startDiary();
    const result = await runTool(python2!, [join(seedPrograms, 'diary_client_first_003.py'), '127.0.0.1', String(port)], { input: '第零篇：只发不收\n' });
    expect(result.code).toBe(0);
    expect(result.stdout.toString('utf8')).toBe('127.0.0.1\n输入>');
    const reader = await openClient(port);
    for (let i = 0; i < 100 && (await reader.read()).length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await reader.read()).map((entry) => entry.text)).toEqual(['第零篇：只发不收']);
  });
});

describe.skipIf(noPython2)(`seed 003 四: the last diary client (继续增加新的功能) against \`wharf diary serve\`${skip2}`, () => {
  let server: RunningWharf | undefined;
  let port = 0;
  beforeAll(async () => {
    server = await startWharf(['diary', 'serve', '--port', '0', '--data', tempDataDir()], { expectLines: 1, timeoutMs: 60_000 });
    port = server.port('diary', 'udp');
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('shows the diary, stores each line, -r, -c refused', async () => {
    const result = await runTool(python2!, [join(seedPrograms, 'diary_client.py'), '127.0.0.1', String(port)], {
      input: '第一篇日记：今天天气很好\n-r\nhello\n-c\n',
      timeoutMs: 20_000,
    });
    expect(result.stderr).toMatch(/EOFError/);
    const stdout = result.stdout.toString('utf8');
    const first = new RegExp(`${STAMP} 第一篇日记：今天天气很好`);
    expectSession(stdout, [], [
      ['第一篇日记', first],
      ['-r', new RegExp(`${escape(READ_HEADER)}\\n${first.source}\\n${escape(READ_FOOTER)}`)],
      ['hello', new RegExp(`${STAMP} hello`)],
      ['-c', SEED_REPLIES.clearRefused],
    ]);
  }, 60_000);
});

describe.skipIf(noPython3)(`seed 003 四: a Python 3 port of the last diary client against wharf${skipped(noPython3)}`, () => {
  afterAll(() => stopAll());

  it('the same flow, Chinese included', async () => {
    const { port } = await startDiary({ anonymousClear: true });
    const result = await runTool('python3', [join(seedPrograms, 'diary_client3.py'), '127.0.0.1', String(port)], {
      input: '中文日记\n-R\n-c\n-r\n',
      timeoutMs: 20_000,
    });
    expect(result.stderr).toMatch(/EOFError/);
    const entry = new RegExp(`${STAMP} 中文日记`);
    expectSession(result.stdout.toString('utf8'), [], [
      ['中文日记', entry],
      ['-R', new RegExp(`${escape(READ_HEADER)}\\n${entry.source}\\n${escape(READ_FOOTER)}`)],
      ['-c', '---初始化完毕---!'],
      ['-r', `${READ_HEADER}\n${READ_FOOTER}`],
    ]);
  }, 60_000);

  it('sees the newest entries that fit its recv(1024), never a cut-off answer', async () => {
    const { port } = await startDiary();
    const client: DiaryClient = await openClient(port);
    await Promise.all(Array.from({ length: 80 }, (_, i) => client.write(`第 ${i} 篇`)));
    const result = await runTool('python3', [join(seedPrograms, 'diary_client3.py'), '127.0.0.1', String(port)], { input: '', timeoutMs: 20_000 });
    const [address, header, ...rest] = result.stdout.toString('utf8').split('\n');
    expect(address).toBe('127.0.0.1');
    const shown = rest.indexOf(READ_FOOTER);
    expect(header).toBe(`${READ_HEADER}(newest ${shown} of 80)`);
    expect(rest[shown - 1]).toMatch(/第 79 篇$/);
  }, 60_000);

  it('several seed clients at once', async () => {
    const { port } = await startDiary();
    const clients = Array.from({ length: 4 }, (_, c) =>
      runTool('python3', [join(seedPrograms, 'diary_client3.py'), '127.0.0.1', String(port)], {
        input: Array.from({ length: 10 }, (_, i) => `客户 ${c} 第 ${i} 条\n`).join(''),
        timeoutMs: 20_000,
      }),
    );
    const results = await Promise.all(clients);
    for (const [c, result] of results.entries()) {
      for (let i = 0; i < 10; i++) expect(result.stdout.toString('utf8')).toContain(`] 客户 ${c} 第 ${i} 条\n`);
    }
    const reader = await openClient(port);
    expect(await reader.read()).toHaveLength(40);
  }, 60_000);
});
