/**
 * Seed 004, in its order (its programs are Python 2 unless said): the UDP client and echo server,
 * the broadcast client (S11, in a network namespace), the TFTP client (S12), the TCP client and
 * server, 模拟聊天 (the person at the server types the answers), the listen-queue client, the
 * select echo server that stops on a typed line and the one with per-client queues (S13), then
 * gevent's downloader and TCP server (Python 3 ports: gevent for Python 2 only comes from PyPI).
 * Each seed client runs against wharf; wharf's clients run against each seed server that answers.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WHARF_BIN, requireBuild, runWharf, startWharf, tempDataDir, type RunningWharf } from '../helpers/cli.js';
import { runTool, skipReason } from '../helpers/tools.js';
import { GEVENT_PYTHON, geventProblem, killPrograms, noPython2, noPython3, Program, program, PROGRAMS, python2, runClient, skipped, startSeedServer } from './support.js';

const skip2 = skipped(noPython2);
const noGevent = geventProblem();

/** `wharf echo serve`: the plain echo service (TCP and UDP), which the seed's echo clients need. */
let echo: RunningWharf;
beforeAll(async () => {
  echo = await startWharf(['echo', 'serve', '--port', '0'], { expectLines: 2 });
});
afterAll(async () => {
  killPrograms();
  await echo?.stop();
});

const py2 = (name: string, port: number, input = '') => runClient(python2!, name, port, input);

describe.skipIf(noPython2)(`seed 004 UDP${skip2}`, { concurrent: true }, () => {
  it("客户端收发数据: the seed's client prints the (data, address) pair `wharf echo serve` sends back", async () => {
    const port = echo.port('echo', 'udp');
    const result = await py2('udp_client_004.py', port, 'hello\n');
    expect(result.code).toBe(0);
    expect(result.stdout.toString('utf8')).toBe(`请输入要发送的数据:('hello', ('127.0.0.1', ${port}))\n`);
  });

  it("echo 服务器: `wharf echo -u` gets each line back from the seed's server, which counts them", async () => {
    const { server, port } = await startSeedServer(python2!, 'udp_echo_server_004.py', 'udp');
    const result = await runWharf(['echo', '-u', '-p', String(port)], { input: 'hello\nagain\n' });
    expect(result.stdout).toBe('hello\nagain\n');
    await server.waitFor('已经将接收到的第1个数据返回给对方,内容为:hello\n已经将接收到的第2个数据返回给对方,内容为:again\n');
  });
});

/**
 * Seed 004's broadcast client sends "Hi" to `<broadcast>` (255.255.255.255) port 7788. A real
 * broadcast must not leave this machine, so the test runs everything in a network namespace of
 * its own, where the only interface is loopback and the default route points at it: there,
 * `wharf serve --host 0.0.0.0` hears the broadcast, and nothing outside can.
 */

function namespaceProblem(): string | undefined {
  const missing = skipReason('unshare') ?? skipReason('ip') ?? noPython3;
  if (missing) return missing;
  try {
    execFileSync('unshare', ['--net', '--map-root-user', 'sh', '-c', 'ip link set lo up'], { stdio: 'ignore', timeout: 10_000 });
    return undefined;
  } catch {
    // Not root and no user namespaces: nothing CI would install fixes that, so skip even there.
    return 'cannot make a network namespace here (unshare --net needs root or user namespaces)';
  }
}

const problem = namespaceProblem();

const SCRIPT = String.raw`
set -u
ip link set lo up
ip route add default dev lo src 127.0.0.1
"$NODE" "$WHARF" serve echo discovery --host 0.0.0.0 --data "$DATA" --log-level warn > "$DATA/serve.out" 2>&1 &
server=$!
for i in $(seq 100); do grep -q '^discovery ' "$DATA/serve.out" && break; sleep 0.1; done
# The seed's client prints each reply and waits for more until it is killed: kill it at the first.
seed() {
  "$@" > "$DATA/seed.out" 2>&1 &
  client=$!
  for i in $(seq 40); do grep -q '^Received from' "$DATA/seed.out" && break; sleep 0.1; done
  kill $client; wait $client 2>/dev/null; cat "$DATA/seed.out"
}
echo "--- seed python 2"
if [ -n "$PY2" ]; then seed "$PY2" -u "$SEEDS/broadcast_client.py"; fi
echo "--- seed python 3"
seed python3 -u "$SEEDS/broadcast_client3.py"
echo "--- wharf discover"
"$NODE" "$WHARF" discover --first --timeout 10000
echo "--- exit $?"
kill -INT $server
wait $server
echo "--- server exit $?"
`;

describe('seed 004 广播: the broadcast client against LAN discovery, in a network namespace', () => {
  it.skipIf(problem !== undefined)(`\`wharf serve\` answers the seed's broadcast Hi (Python 2 and a Python 3 port), and wharf discover finds it${problem ? ` (skipped: ${problem})` : ''}`, async () => {
    requireBuild();
    const data = tempDataDir();
    const result = await runTool('unshare', ['--net', '--map-root-user', 'sh', '-c', SCRIPT], {
      timeoutMs: 30_000,
      env: { NODE: process.execPath, WHARF: WHARF_BIN, DATA: data, SEEDS: PROGRAMS, PY2: python2 ?? '' },
    });
    const out = result.stdout.toString();
    const section = (name: string) => out.split(`--- ${name}\n`)[1]?.split('\n---')[0] ?? '';
    const line = /^Received from \('127\.0\.0\.1', 7788\): wharf \S+ on \S+: echo tcp 7007, echo udp 7007, discovery udp 7788$/m;

    expect(section('seed python 3'), out + result.stderr).toMatch(line);
    expect(section('seed python 3').split('\n')[0]).toBe('等待对方回复（按ctrl+c退出）');
    if (python2) expect(section('seed python 2'), out + result.stderr).toMatch(line);

    expect(section('wharf discover')).toMatch(/^127\.0\.0\.1 \S+ \(wharf \S+\)\n {2}echo {7}tcp:\/\/127\.0\.0\.1:7007\n {2}echo {7}udp:\/\/127\.0\.0\.1:7007\n {2}discovery {2}udp:\/\/127\.0\.0\.1:7788$/);
    expect(out).toContain('--- exit 0');
    // Stopped by SIGINT: gracefully, and with 130 as every interrupted command.
    expect(out).toContain('--- server exit 130');
  }, 60_000);
});

describe.skipIf(noPython2)(`seed 004 TFTP: the download client against \`wharf tftp serve\`${skip2}`, () => {
  let server: RunningWharf | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it('downloads test.jpg block by block, byte for byte', async () => {
    const data = tempDataDir();
    mkdirSync(join(data, 'files', 'tftp'), { recursive: true });
    // Three full blocks and a short one, as a small picture would be.
    const picture = randomBytes(3 * 512 + 100);
    writeFileSync(join(data, 'files', 'tftp', 'test.jpg'), picture);
    server = await startWharf(['tftp', 'serve', '--port', '0', '--data', data], { expectLines: 1 });
    const cwd = tempDataDir();
    const quoted = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
    const result = await runTool('sh', ['-c', `cd ${quoted(cwd)} && ${quoted(python2!)} ${quoted(program('tftp_client.py'))} 127.0.0.1 ${server.port('tftp', 'udp')}`], { timeoutMs: 20_000 });
    expect(result.stderr).toBe('');
    const lines = result.stdout.toString('utf8').trimEnd().split('\n');
    expect(lines).toEqual(['(1)次接收到的数据', '(2)次接收到的数据', '(3)次接收到的数据', '(4)次接收到的数据', '已经成功下载！！！']);
    expect(readFileSync(join(cwd, 'test.jpg')).equals(picture)).toBe(true);
  });
});

describe.skipIf(noPython2)(`seed 004 TCP${skip2}`, { concurrent: true }, () => {
  it("客户端: the seed's client prints what `wharf echo serve` sends back", async () => {
    const result = await py2('tcp_client_004.py', echo.port('echo', 'tcp'), 'hello\n');
    expect(result.code).toBe(0);
    expect(result.stdout.toString('utf8')).toBe('请输入要发送的数据：接收到的数据为: hello\n');
  });

  it("服务器: `wharf echo send --framing raw` gets the seed's \"thank you !\"; the server then exits", async () => {
    const { server, port } = await startSeedServer(python2!, 'tcp_server_004.py', 'tcp');
    const result = await runWharf(['echo', 'send', '-p', String(port), '--framing', 'raw', 'hello']);
    expect(result.stdout).toBe('thank you !\n');
    expect(await server.exited).toBe(0);
    expect(server.output).toBe('接收到的数据为: hello\n');
  });
});

describe.skipIf(noPython2)(`seed 004 模拟聊天: the person at the server types each answer${skip2}`, { concurrent: true }, () => {
  it("the seed's client gets the answers typed at `wharf echo serve --reply-from-console`", async () => {
    const server = await startWharf(['echo', 'serve', '--port', '0', '--no-udp', '--reply-from-console'], { expectLines: 1 });
    try {
      const console = new Program(server.child);
      const client = Program.start(python2!, ['-u', program('chat_client_004.py'), '127.0.0.1', String(server.port('echo', 'tcp'))]);
      await client.waitFor('send：');
      client.type('你好');
      await console.waitFor(/From \('127\.0\.0\.1', \d+\) : 你好\n响应数据 >>> $/);
      server.child.stdin.write('收到，你好\n');
      await client.waitFor('recv: 收到，你好\nsend：');
      client.type('');
      expect(await client.exited).toBe(0);
    } finally {
      await server.stop();
    }
  });

  it("`wharf echo --framing raw` prints what the person at the seed's server types", async () => {
    const { server, port } = await startSeedServer(python2!, 'chat_server_004.py', 'tcp');
    const session = runWharf(['echo', '-p', String(port), '--framing', 'raw'], { input: 'hello\n你好\n' });
    await server.waitFor('recv: hello\nsend:');
    server.type('hi');
    await server.waitFor('recv: 你好\nsend:');
    server.type('你也好');
    expect((await session).stdout).toBe('hi\n你也好\n');
  });
});

describe.skipIf(noPython2)(`seed 004 Listen 的队列长度 and the select servers${skip2}`, { concurrent: true }, () => {
  it("the listen-queue client opens the connections it is asked for against `wharf echo serve`", async () => {
    const result = await py2('listen_client_004.py', echo.port('echo', 'tcp'), '5\n');
    expect(result.code).toBe(0);
    expect(result.stdout.toString('utf8')).toBe('请输入要链接服务器的次数:0\n1\n2\n3\n4\n');
  });

  it("`wharf echo` gets each line back from the select echo server (Python 3), which stops on a line typed at it", async () => {
    const { server, port } = await startSeedServer('python3', 'select_echo_server_004.py', 'tcp');
    const result = await runWharf(['echo', '-p', String(port)], { input: 'hello\n你好\n' });
    expect(result.stdout).toBe('hello\n你好\n');
    server.type('quit');
    expect(await server.exited).toBe(0);
  });

  it("`wharf echo` gets each line back from the server with a queue per client", async () => {
    const { server, port } = await startSeedServer(python2!, 'queue_server_004.py', 'tcp');
    const result = await runWharf(['echo', '-p', String(port)], { input: 'hello\nagain\n' });
    expect(result.stdout).toBe('hello\nagain\n');
    await server.waitFor(/^received again\n from client \('127\.0\.0\.1', \d+\)$/m);
    // A client that has gone stays readable (recv() returns '', which the seed does not handle):
    // the server spins on it, so stop it now.
    server.kill();
  });
});

describe.skipIf(noGevent)(`seed 004 gevent (Python 3 ports, Debian's python3-gevent)${skipped(noGevent)}`, { concurrent: true }, () => {
  it('the concurrent downloader fetches three pages from `wharf web serve` at once', async () => {
    const root = join(tempDataDir(), 'www');
    mkdirSync(root);
    const pages = { 'index.html': '<h1>首页</h1>\n', 'a.html': 'a'.repeat(10_000), 'b.html': 'b'.repeat(200_000) };
    for (const [name, text] of Object.entries(pages)) writeFileSync(join(root, name), text);
    const web = await startWharf(['web', 'serve', '--port', '0', '--root', root, '--access-log', 'off'], { expectLines: 1 });
    try {
      const base = `http://127.0.0.1:${web.port('web', 'tcp')}/`;
      const urls = [base, `${base}a.html`, `${base}b.html`];
      const result = await runTool(GEVENT_PYTHON, [program('gevent_downloader.py'), ...urls], { timeoutMs: 20_000 });
      expect(result.stderr).toBe('');
      const lines = result.stdout.toString('utf8').trimEnd().split('\n');
      // All three requests go out before any answer is read: that is what gevent is for.
      expect(lines.slice(0, 3)).toEqual(urls.map((url) => `GET: ${url}`));
      expect(lines.slice(3).sort()).toEqual([`${Buffer.byteLength(pages['index.html'])} bytes received from ${base}.`, `10000 bytes received from ${base}a.html.`, `200000 bytes received from ${base}b.html.`].sort());
    } finally {
      await web.stop();
    }
  });

  it("`wharf echo` gets each line back from gevent's TCP server, two clients at once", async () => {
    const { server, port } = await startSeedServer(GEVENT_PYTHON, 'gevent_server.py', 'tcp');
    const results = await Promise.all(['hello\n你好\n', 'other\n'].map((input) => runWharf(['echo', '-p', String(port)], { input })));
    expect(results.map((r) => r.stdout)).toEqual(['hello\n你好\n', 'other\n']);
    await server.waitFor("recv: b'other\\n'");
  });
});
