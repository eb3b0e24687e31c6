import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDataDir } from '../helpers/cli.js';
import { hasTool } from '../helpers/tools.js';

/** The systemd unit docs/running.md gives users to paste must be one systemd accepts. */
const docs = readFileSync(resolve(import.meta.dirname, '../../docs/running.md'), 'utf8');
const unit = /```ini\n([\s\S]*?)```/.exec(docs)?.[1];
const noAnalyze = hasTool('systemd-analyze') ? undefined : 'systemd-analyze is not installed';

describe('docs/running.md', () => {
  it('has a systemd unit that binds the standard ports with CAP_NET_BIND_SERVICE, not root', () => {
    expect(unit).toBeDefined();
    expect(unit).toMatch(/^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
    expect(unit).not.toMatch(/^User=root$/m);
    expect(unit).toMatch(/--no-console/);
  });

  it.skipIf(noAnalyze !== undefined)(`systemd-analyze verify accepts the unit${noAnalyze ? ` (skipped: ${noAnalyze})` : ''}`, () => {
    const file = join(tempDataDir(), 'wharf.service');
    writeFileSync(file, unit ?? '');
    // It exits 0 on an unknown key, saying so on stderr: a clean unit says nothing at all.
    const result = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8', timeout: 20_000 });
    expect(`${result.stdout}${result.stderr}`).toBe('');
    expect(result.status).toBe(0);
  });
});
