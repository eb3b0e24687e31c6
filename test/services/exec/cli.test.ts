import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWharf, startWharf, tempDataDir, type RunningWharf } from '../../helpers/cli.js';

const data = tempDataDir();
const config = join(data, 'wharf.json');
let server: RunningWharf;
const env = { WHARF_USER: 'alice', WHARF_PASSWORD: 'alice-password' };

beforeAll(async () => {
  writeFileSync(
    config,
    JSON.stringify({
      services: {
        exec: {
          port: 0,
          commands: {
            ticks: { argv: ['sh', '-c', 'echo tick 1; sleep 1; echo tick 2; echo oops >&2; exit 4'], allow: ['alice'] },
            hello: ['echo', 'hello'],
          },
        },
      },
    }),
  );
  const added = await runWharf(['user', 'add', 'alice', '--data', data, '--password-stdin'], { input: 'alice-password\n' });
  expect(added.code).toBe(0);
  server = await startWharf(['exec', 'serve', '--config', config, '--data', data], { expectLines: 1, cwd: data });
});
afterAll(() => server.stop('SIGTERM'));

describe('wharf exec (the client command)', () => {
  it('streams the output live, stderr apart, and exits with the remote status', async () => {
    const port = String(server.port('exec', 'tcp'));
    const result = await runWharf(['exec', '-p', port, 'ticks'], { env });
    expect(result).toMatchObject({ code: 4, stdout: 'tick 1\ntick 2\n', stderr: 'oops\n' });
  });

  it('--list shows only what the account may run; an admin-only command is refused', async () => {
    const port = String(server.port('exec', 'tcp'));
    expect(await runWharf(['exec', '-p', port, '--list'], { env })).toMatchObject({ code: 0, stdout: expect.stringMatching(/^ticks\t/) });
    const refused = await runWharf(['exec', '-p', port, 'hello'], { env });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/no command hello for alice/);
  });
});
