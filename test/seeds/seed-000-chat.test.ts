/**
 * Seed 000 §8, the chat room (S5): the seed's own Python programs against wharf, both ways:
 * - the seed client in wharf's room, chatting with a wharf (TCP) client;
 * - wharf's seed-protocol client (`wharf chat --seed-protocol`) and library against the seed server.
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatClient, SeedChatClient } from '../../src/services/chat/client.js';
import type { ChatMessage } from '../../src/services/chat/protocol.js';
import { WHARF_BIN, runWharf, startWharf, tempDataDir, type RunningWharf } from '../helpers/cli.js';
import { startTestChat, stopAllChats } from '../services/chat/support.js';
import { killPrograms, noPython3, program, Program, startSeedServer } from './support.js';

const noPython = noPython3;
const noBuild = existsSync(WHARF_BIN) ? undefined : `${WHARF_BIN} is missing (npm run build)`;

const clients: ChatClient[] = [];
const servers: RunningWharf[] = [];
afterEach(async () => {
  killPrograms();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await stopAllChats();
});

async function until(condition: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The seed's server (it takes its port, then its address), listening. */
function startSeedChatServer(): Promise<{ server: Program; port: number }> {
  return startSeedServer('python3', 'chat_server.py', 'udp', { argv: (port) => [String(port), '127.0.0.1'] });
}

describe("seed 000 §8: the chat room's programs", () => {
  it.skipIf(noPython)(`the seed's client chats with a wharf client through wharf's room${noPython ? ` (skipped: ${noPython})` : ''}`, async () => {
    const { udp, tcp, chat } = await startTestChat();
    const seed = Program.start('python3', ['-u', program('chat_client.py'), '127.0.0.1', String(udp), '0']);
    seed.type('管理员');
    await seed.waitFor('该用户已存在'); // FAIL: the seed client says "the user exists" for any refusal
    seed.type('小明');
    await seed.waitFor('您已进入聊天室');

    const wharf = new ChatClient({ port: tcp, name: 'alice' });
    clients.push(wharf);
    const heard: ChatMessage[] = [];
    wharf.on('message', (m) => heard.push(m));
    const welcome = await wharf.connect();
    expect(welcome.members.map((m) => `${m.name}/${m.via}`).sort()).toEqual(['alice/tcp', '小明/udp']);
    await seed.waitFor('\n欢迎 alice 进入聊天室\n发言:');

    await wharf.say('你好，小明 👋');
    await seed.waitFor('\nalice : 你好，小明 👋\n发言:');
    seed.type('你好 alice, from the seed client 🐍');
    await until(() => heard.some((m) => m.from === '小明'), 10_000, 'the seed client\'s message');
    expect(heard.find((m) => m.from === '小明')?.text).toBe('你好 alice, from the seed client 🐍');

    await chat.announce('五分钟后重启');
    await seed.waitFor('\n管理员消息 : 五分钟后重启\n发言:');
    await until(() => heard.some((m) => m.kind === 'admin'), 10_000, 'the admin message');

    const left = new Promise<string>((done) => wharf.on('presence', (p) => p.left.length > 0 && done(p.left[0]!.name)));
    seed.type('exit');
    expect(await left).toBe('小明');
    expect(await seed.exited).toBe(1); // sys.exit("您已退出聊天室") exits with status 1
    expect(seed.output).toContain('您已退出聊天室');
  }, 45_000);

  it.skipIf(noPython)(`wharf's seed-protocol client library speaks to the seed's server${noPython ? ` (skipped: ${noPython})` : ''}`, async () => {
    const { server, port } = await startSeedChatServer();
    const alice = await SeedChatClient.connect({ port });
    const bob = await SeedChatClient.connect({ port });
    try {
      const aliceLines: string[] = [];
      alice.on('line', (l) => aliceLines.push(l));
      expect(await alice.login('alice')).toBe(true);
      expect(await bob.login('alice')).toBe(false);
      expect(await bob.login('bob')).toBe(true);
      await bob.say('hello alice 你好');
      await until(() => aliceLines.includes('bob : hello alice 你好'), 10_000, 'bob\'s message at alice');
      expect(aliceLines).toContain('欢迎 bob 进入聊天室');
      server.type('server notice');
      await until(() => aliceLines.includes('管理员消息 : server notice'), 10_000, 'the admin message');
    } finally {
      await alice.close();
      await bob.close();
    }
  }, 45_000);

  it.skipIf(noPython || noBuild)(
    `\`wharf chat --seed-protocol\` and the seed's client chat through the seed's server${noPython || noBuild ? ` (skipped: ${noPython ?? noBuild})` : ''}`,
    async () => {
      const { server, port } = await startSeedChatServer();
      const seed = Program.start('python3', ['-u', program('chat_client.py'), '127.0.0.1', String(port), '0']);
        seed.type('小明');
      await seed.waitFor('您已进入聊天室');

      const wharf = Program.start(process.execPath, [WHARF_BIN, 'chat', '--seed-protocol', '--port', String(port), '--name', 'alice'], { env: { WHARF_LOG_LEVEL: 'warn' } });
      await wharf.waitFor('you are alice', 15_000);
      await seed.waitFor('欢迎 alice 进入聊天室');
      wharf.type('hello from wharf 🚢');
      await seed.waitFor('\nalice : hello from wharf 🚢\n发言:');
      seed.type('hi wharf');
      await wharf.waitFor('小明 : hi wharf');
      server.type('admin here');
      await wharf.waitFor('管理员消息 : admin here');
      wharf.type('exit');
      expect(await wharf.exited).toBe(0);
      await seed.waitFor('alice 退出了群聊');
    },
    45_000,
  );

  it.skipIf(noPython || noBuild)(
    `the seed's client against \`wharf chat serve\`, with \`wharf chat send\` and the console${noPython || noBuild ? ` (skipped: ${noPython ?? noBuild})` : ''}`,
    async () => {
      const data = tempDataDir();
      const server = await startWharf(['chat', 'serve', '--port', '0', '--tcp-port', '0', '--console', '--data', data], { expectLines: 2 });
      servers.push(server);
      const udp = server.port('chat', 'udp');
      const tcp = server.port('chat', 'tcp');
      const seed = Program.start('python3', ['-u', program('chat_client.py'), '127.0.0.1', String(udp), '0']);
        seed.type('小明');
      await seed.waitFor('您已进入聊天室');

      const sent = await runWharf(['chat', 'send', '--port', String(tcp), '--name', 'bob', '来自脚本的消息 📜'], { cwd: data });
      expect(sent.stderr).toBe('');
      expect(sent.code).toBe(0);
      expect(sent.stdout).toBe('lobby #1\n');
      await seed.waitFor('\nbob : 来自脚本的消息 📜\n发言:');

      server.child.stdin.write('大家注意\n');
      await seed.waitFor('\n管理员消息 : 大家注意\n发言:');
      seed.type('exit');
      await seed.exited;
      expect(await server.stop()).toBe(0);
    },
    45_000,
  );
});
