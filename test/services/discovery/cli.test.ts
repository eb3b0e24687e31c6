import { afterEach, describe, expect, it } from 'vitest';
import { runWharf, startWharf, type RunningWharf } from '../../helpers/cli.js';

const running: RunningWharf[] = [];
afterEach(async () => {
  for (const server of running.splice(0)) await server.stop('SIGKILL');
});

describe('wharf discover', () => {
  it('lists a server and its services, as text and as JSON', async () => {
    const server = await startWharf(['serve', 'echo', 'discovery', '--set', 'echo.port=0', '--set', 'discovery.port=0', '--set', 'discovery.name=cli-test'], { expectLines: 3 });
    running.push(server);
    const port = server.port('discovery', 'udp');
    const echo = server.port('echo', 'tcp');
    const text = await runWharf(['discover', '-a', '127.0.0.1', '-p', String(port), '--first', '--timeout', '10000']);
    expect(text).toMatchObject({ code: 0, stderr: '' });
    expect(text.stdout).toMatch(new RegExp(`^127\\.0\\.0\\.1 cli-test \\(wharf [^)]+\\)\\n  echo       tcp://127\\.0\\.0\\.1:${echo}\\n  echo       udp://127\\.0\\.0\\.1:${echo}\\n  discovery  udp://127\\.0\\.0\\.1:${port}\\n$`));
    const json = await runWharf(['discovery', 'find', '-a', '127.0.0.1', '-p', String(port), '--first', '--timeout', '10000', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject([{ address: '127.0.0.1', port, name: 'cli-test', services: [{ service: 'echo', url: `tcp://127.0.0.1:${echo}` }, {}, {}] }]);
  });

  it('exits 1 and says so when nobody answers; 2 on a bad flag', async () => {
    const server = await startWharf(['discovery', 'serve', '--port', '0'], { expectLines: 1 });
    running.push(server);
    const free = server.port('discovery', 'udp');
    await server.stop('SIGTERM');
    running.pop();
    const none = await runWharf(['discover', '-a', '127.0.0.1', '-p', String(free), '--timeout', '200']);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/^wharf: no wharf server answered on 127\.0\.0\.1:\d+ within 200 ms\n$/);
    expect((await runWharf(['discover', '--timeout', '0'])).code).toBe(2);
    expect((await runWharf(['discover', '--port', '70000'])).code).toBe(2);
  });
});
