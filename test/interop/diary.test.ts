import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiaryClient } from '../../src/services/diary/client.js';
import { READ_FOOTER, READ_HEADER, SEED_REPLIES } from '../../src/services/diary/protocol.js';
import { startWharf, tempDataDir, type RunningWharf } from '../helpers/cli.js';
import { findPython2, runTool, skipReason } from '../helpers/tools.js';
import { openClient, startDiary, stopAll } from '../services/diary/support.js';

/**
 * The seed's own diary client (seed 003, Python 2, verbatim but for the server address) and a
 * Python 3 port of it, against wharf. The seed client has no way to quit: at the end of its
 * input raw_input() raises EOFError, so it exits with status 1 and a traceback; what matters is
 * what it printed before.
 */

const seedPrograms = resolve(import.meta.dirname, 'seed-programs');

const python2 = findPython2();
const noPython3 = skipReason('python3');
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

describe("the seed's Python 2 client against `wharf diary serve`", () => {
  let server: RunningWharf | undefined;
  let port = 0;
  beforeAll(async () => {
    if (!python2) return;
    server = await startWharf(['diary', 'serve', '--port', '0', '--data', tempDataDir()], { expectLines: 1, timeoutMs: 60_000 });
    port = server.port('diary', 'udp');
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
  });

  it.skipIf(!python2)(`shows the diary, stores each line, -r, -c refused${python2 ? '' : ' (skipped: no Python 2.7: set WHARF_PYTHON2)'}`, async () => {
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

describe('a Python 3 port of the seed client against wharf', () => {
  afterAll(() => stopAll());

  it.skipIf(noPython3)(`the same flow, Chinese included${noPython3 ? ` (skipped: ${noPython3})` : ''}`, async () => {
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

  it.skipIf(noPython3)(`sees the newest entries that fit its recv(1024), never a cut-off answer${noPython3 ? ` (skipped: ${noPython3})` : ''}`, async () => {
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

  it.skipIf(noPython3)(`several seed clients at once${noPython3 ? ` (skipped: ${noPython3})` : ''}`, async () => {
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
