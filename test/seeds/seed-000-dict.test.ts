import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/index.js';
import { startWharf, tempDataDir } from '../helpers/cli.js';
import { runTool } from '../helpers/tools.js';
import { seedTextFile, startDict, tempStore, type StartedDict } from '../services/dict/support.js';
import { noPython3, program } from './support.js';

/**
 * Seed 000 §11, the online dictionary (S8): the seed's own client (§11.3, Python 3, verbatim but
 * for the server address) against the dict service's seed front end, driven through its menus on
 * stdin: register, log in, look up two words, read the history, log out, quit. (The seed's
 * server needs MySQL and pymysql, and no wharf client speaks its protocol: wharf's speaks DICT.)
 */

const client = program('dict_client.py');

let server: StartedDict | undefined;
let store: Store | undefined;

beforeAll(async () => {
  if (noPython3) return;
  store = await tempStore();
  server = await startDict({ wordnet: false, databases: [{ name: 'seed', path: seedTextFile() }], seedProtocol: true, seedPort: 0 }, { store });
});

afterAll(async () => {
  await server?.stop();
  await store?.close();
});

describe("seed 000 §11: the dictionary's client against the dict service's seed front end", () => {
  it.skipIf(noPython3 !== undefined)(`registers, logs in, looks up, lists the history, quits${noPython3 ? ` (skipped: ${noPython3})` : ''}`, async () => {
    const port = server!.service.addresses[1]!.port;
    const typed = ['1', 'bob', 'bobs-password', 'bobs-password', '2', 'bob', 'bobs-password', '1', 'abandon', '你好', 'nope', '##', '2', '3', '3'];
    const result = await runTool('python3', [client, '127.0.0.1', String(port)], { input: `${typed.join('\n')}\n`, timeoutMs: 15_000 });
    const stdout = result.stdout.toString('utf8');
    expect(result.stderr).toContain('谢谢使用');
    expect(result.code).toBe(1); // sys.exit("谢谢使用") exits with status 1
    expect(stdout).toContain('注册成功');
    expect(stdout).toContain('登录成功');
    expect(stdout).toContain('单词:abandon : v. go away from, leaving behind\n');
    expect(stdout).toContain('单词:你好 : hello (Mandarin greeting)\n');
    expect(stdout).toContain('单词:nope : Not Found\n');
    const records = [...stdout.matchAll(/^(?:请输入命令:)?bob {4}(\S+) {3}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/gmu)].map((m) => m[1]);
    expect(records).toEqual(['nope', '你好', 'abandon']);
    expect(stdout).toContain('用户:bob');
  });

  it.skipIf(noPython3 !== undefined)(`says 登录失败 for a wrong password and goes on${noPython3 ? ` (skipped: ${noPython3})` : ''}`, async () => {
    const port = server!.service.addresses[1]!.port;
    const result = await runTool('python3', [client, '127.0.0.1', String(port)], { input: '2\nnobody-here\nwrong\n3\n', timeoutMs: 15_000 });
    expect(result.stdout.toString('utf8')).toContain('登录失败');
    expect(result.stderr).toContain('谢谢使用');
  });

  it.skipIf(noPython3 !== undefined)(`runs against \`wharf dict serve --seed-port\`, the second dict address${noPython3 ? ` (skipped: ${noPython3})` : ''}`, async () => {
    const wharf = await startWharf(['dict', 'serve', '--port', '0', '--seed-port', '0', '--no-wordnet', '--data', tempDataDir()], { expectLines: 2, timeoutMs: 30_000 });
    try {
      const seedLine = wharf.lines.filter((line) => line.startsWith('dict tcp://'))[1]!;
      const port = Number(/:(\d+)$/.exec(seedLine)![1]);
      const result = await runTool('python3', [client, '127.0.0.1', String(port)], { input: '1\nerin\nerins-password\nerins-password\n3\n', timeoutMs: 15_000 });
      expect(result.stdout.toString('utf8')).toContain('注册成功');
    } finally {
      await wharf.stop();
    }
  });
});
