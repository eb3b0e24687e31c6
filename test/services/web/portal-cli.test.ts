/**
 * The portal from the command line: `wharf serve web` serves it (and says where to open it),
 * `--no-portal` turns it off; `wharf web serve` serves a plain site unless given `--portal`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startWharf, tempDataDir, type RunningWharf } from '../../helpers/cli.js';
import { request } from './support.js';

const running: RunningWharf[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

async function start(args: string[]): Promise<{ port: number; wharf: RunningWharf }> {
  const wharf = await startWharf([...args, '--data', tempDataDir()], { expectLines: 1, env: { WHARF_LOG_FORMAT: 'json', WHARF_LOG_LEVEL: 'info' } });
  running.push(wharf);
  return { port: wharf.port('web', 'tcp'), wharf };
}

describe('the portal from the command line', () => {
  it('is on under `wharf serve`, which logs the address to open; off with --no-portal', async () => {
    const on = await start(['serve', 'web', '--set', 'web.port=0', '--no-console']);
    expect((await request(on.port, '/portal/api/session')).status).toBe(200);
    await expect.poll(() => on.wharf.stderr()).toMatch(new RegExp(`portal: open http://127\\.0\\.0\\.1:${on.port}/ in a browser`));
    const off = await start(['serve', 'web', '--set', 'web.port=0', '--no-console', '--no-portal']);
    expect((await request(off.port, '/portal/api/session')).status).toBe(404);
    expect((await request(off.port, '/')).body.toString()).toContain('It works');
  });

  it('is off under `wharf web serve`; on with --portal', async () => {
    const plain = await start(['web', 'serve', '--port', '0']);
    expect((await request(plain.port, '/portal/api/session')).status).toBe(404);
    const portal = await start(['web', 'serve', '--port', '0', '--portal']);
    expect((await request(portal.port, '/portal/api/session')).status).toBe(200);
  });
});
