/**
 * Seed 000 §1–§7, in the course's order: the UDP and TCP "Thanks" servers and their clients, the
 * one-message-per-connection pair, then the same echo service as fork, thread, select and epoll
 * servers. Each seed client runs against `wharf echo serve`; `wharf echo` runs against each seed
 * server. All Python 3.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWharf, startWharf, type RunningWharf } from '../helpers/cli.js';
import { killPrograms, noPython3, runClient, skipped, startSeedServer } from './support.js';

const skip = skipped(noPython3);

/** `wharf echo serve --reply Thanks --print` (TCP and UDP) and `--once --reply Thanks` (TCP): the seed's two servers. */
let thanks: RunningWharf;
let once: RunningWharf;
let printed = '';

beforeAll(async () => {
  [thanks, once] = await Promise.all([
    startWharf(['echo', 'serve', '--port', '0', '--reply', 'Thanks', '--print'], { expectLines: 2 }),
    startWharf(['echo', 'serve', '--port', '0', '--no-udp', '--once', '--reply', 'Thanks'], { expectLines: 1 }),
  ]);
  thanks.child.stdout.on('data', (d: Buffer) => (printed += d.toString('utf8')));
});

afterAll(async () => {
  killPrograms();
  await Promise.all([thanks?.stop(), once?.stop()]);
});

const seedClient = (name: string, port: number, input: string) => runClient('python3', name, port, input);

describe.skipIf(noPython3)(`seed 000 §1: UDP${skip}`, { concurrent: true }, () => {
  it("the seed's client gets Thanks for each line; wharf prints each like the seed's server", async () => {
    const result = await seedClient('udp_client.py', thanks.port('echo', 'udp'), '你好\nagain\n\n');
    expect(result.code).toBe(0);
    expect(result.stdout.toString('utf8')).toBe('>>From server: Thanks\n>>From server: Thanks\n>>');
    expect(printed).toMatch(/^From \('127\.0\.0\.1', \d+\) : 你好$/m);
  });

  it("`wharf echo -u` gets Thanks from the seed's server", async () => {
    const { server, port } = await startSeedServer('python3', 'udp_server_000.py', 'udp');
    const result = await runWharf(['echo', '-u', '-p', String(port)], { input: 'hello\n你好\n' });
    expect(result.stdout).toBe('Thanks\nThanks\n');
    await server.waitFor(/^From \('127\.0\.0\.1', \d+\) : 你好\nSend 6 bytes$/m);
  });
});

describe.skipIf(noPython3)(`seed 000 §2: TCP${skip}`, { concurrent: true }, () => {
  it("the seed's client gets Thanks for each line", async () => {
    const result = await seedClient('tcp_client.py', thanks.port('echo', 'tcp'), 'hello\n世界\n\n');
    expect(result.code).toBe(0);
    expect(result.stdout.toString('utf8')).toBe('>>From server: Thanks\n>>From server: Thanks\n>>');
  });

  it("`wharf echo --framing raw` gets Thanks from the seed's server (which reads 5 bytes at a time)", async () => {
    const { server, port } = await startSeedServer('python3', 'tcp_server_000.py', 'tcp');
    const result = await runWharf(['echo', '-p', String(port), '--framing', 'raw'], { input: 'hi\n你\n' });
    expect(result.stdout).toBe('Thanks\nThanks\n');
    await server.waitFor('接收到： hi\n');
    await server.waitFor('接收到： 你\n');
  });

  it("the seed's reconnecting client gets one Thanks per connection from --once", async () => {
    const result = await seedClient('once_client.py', once.port('echo', 'tcp'), 'one\ntwo\n\n');
    expect(result.code).toBe(0);
    expect(result.stdout.toString('utf8')).toBe('>>from Server： Thanks\n>>from Server： Thanks\n>>');
  });

  it("`wharf echo send` gets Thanks from the seed's one-message server, once per connection", async () => {
    const { server, port } = await startSeedServer('python3', 'once_server_000.py', 'tcp');
    for (const text of ['one', 'two']) {
      const result = await runWharf(['echo', 'send', '-p', String(port), '--framing', 'raw', text]);
      expect(result.stdout).toBe('Thanks\n');
    }
    await server.waitFor('接收到： one\nWaiting for connect...\n接收到： two\n');
  });
});

describe.skipIf(noPython3)(`seed 000 §4–§7: the concurrency models' servers${skip}`, { concurrent: true }, () => {
  const models: Array<[string, string, string]> = [
    ['§4 process per client (multiprocessing, SIGCHLD ignored)', 'fork_server_000.py', 'ok'],
    ['§5 thread per client', 'thread_server_000.py', 'ok'],
    ['§6 select', 'select_server_000.py', 'ok'],
    ['§7 epoll, edge-triggered', 'epoll_server_000.py', 'OK'],
  ];
  for (const [model, name, answer] of models) {
    it(`${model}: \`wharf echo --framing raw\` gets ${answer} for each line, two clients at once`, async () => {
      const { server, port } = await startSeedServer('python3', name, 'tcp');
      const clients = await Promise.all(['first\n第二\n', 'other\n'].map((input) => runWharf(['echo', '-p', String(port), '--framing', 'raw'], { input })));
      expect(clients.map((c) => c.stdout)).toEqual([`${answer}\n${answer}\n`, `${answer}\n`]);
      await server.waitFor('第二');
    });
  }
});
