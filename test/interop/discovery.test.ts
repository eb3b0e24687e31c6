import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WHARF_BIN, requireBuild, tempDataDir } from '../helpers/cli.js';
import { findPython2, runTool, skipReason } from '../helpers/tools.js';

/**
 * Seed 004's broadcast client sends "Hi" to `<broadcast>` (255.255.255.255) port 7788. A real
 * broadcast must not leave this machine, so the test runs everything in a network namespace of
 * its own, where the only interface is loopback and the default route points at it: there,
 * `wharf serve --host 0.0.0.0` hears the broadcast, and nothing outside can.
 */

const seedPrograms = resolve(import.meta.dirname, 'seed-programs');

function namespaceProblem(): string | undefined {
  const missing = skipReason('unshare') ?? skipReason('ip') ?? skipReason('python3');
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
const python2 = findPython2();

const SCRIPT = String.raw`
set -u
ip link set lo up
ip route add default dev lo src 127.0.0.1
"$NODE" "$WHARF" serve echo discovery --host 0.0.0.0 --data "$DATA" --log-level warn > "$DATA/serve.out" 2>&1 &
server=$!
for i in $(seq 100); do grep -q '^discovery ' "$DATA/serve.out" && break; sleep 0.1; done
echo "--- seed python 2"
if [ -n "$PY2" ]; then timeout 4 "$PY2" -u "$SEEDS/broadcast_client.py"; fi
echo "--- seed python 3"
timeout 4 python3 -u "$SEEDS/broadcast_client3.py"
echo "--- wharf discover"
"$NODE" "$WHARF" discover --first --timeout 10000
echo "--- exit $?"
kill -INT $server
wait $server
echo "--- server exit $?"
`;

describe('LAN discovery by broadcast, in a network namespace', () => {
  it.skipIf(problem !== undefined)(`answers the seed's broadcast Hi, and wharf discover finds the server${problem ? ` (skipped: ${problem})` : ''}`, async () => {
    requireBuild();
    const data = tempDataDir();
    const result = await runTool('unshare', ['--net', '--map-root-user', 'sh', '-c', SCRIPT], {
      timeoutMs: 30_000,
      env: { NODE: process.execPath, WHARF: WHARF_BIN, DATA: data, SEEDS: seedPrograms, PY2: python2 ?? '' },
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
