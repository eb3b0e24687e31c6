import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startWharf, tempDataDir, type RunningWharf } from '../helpers/cli.js';
import { findPython2, runTool } from '../helpers/tools.js';

/**
 * Seed 004's TFTP client (S12), a Python 2 program, downloads `test.jpg` from `wharf tftp serve`:
 * an RRQ in octet mode, a 512-byte block per DATA, an ACK for each, the end at a short block.
 */
const client = resolve(import.meta.dirname, 'seed-programs', 'tftp_client.py');
const python2 = findPython2();
const skipped = python2 ? '' : ' (skipped: no Python 2.7: set WHARF_PYTHON2)';

describe("the seeds' TFTP client", () => {
  let server: RunningWharf | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it.skipIf(!python2)(`downloads test.jpg block by block, byte for byte${skipped}`, async () => {
    const data = tempDataDir();
    mkdirSync(join(data, 'files', 'tftp'), { recursive: true });
    // Three full blocks and a short one, as a small picture would be.
    const picture = randomBytes(3 * 512 + 100);
    writeFileSync(join(data, 'files', 'tftp', 'test.jpg'), picture);
    server = await startWharf(['tftp', 'serve', '--port', '0', '--data', data], { expectLines: 1 });
    const cwd = tempDataDir();
    const quoted = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
    const result = await runTool('sh', ['-c', `cd ${quoted(cwd)} && ${quoted(python2!)} ${quoted(client)} 127.0.0.1 ${server.port('tftp', 'udp')}`], { timeoutMs: 20_000 });
    expect(result.stderr).toBe('');
    const lines = result.stdout.toString('utf8').trimEnd().split('\n');
    expect(lines).toEqual(['(1)次接收到的数据', '(2)次接收到的数据', '(3)次接收到的数据', '(4)次接收到的数据', '已经成功下载！！！']);
    expect(readFileSync(join(cwd, 'test.jpg')).equals(picture)).toBe(true);
  });
});
