/**
 * wharf's echo data path on a copy of src/core (bench/experiments/core/), with switches for the
 * changes under test. The copy is wharf's StreamServer + SocketConnection; the handler is exactly
 * createEchoHandler's echo mode: `data: (chunk) => void connection.write(chunk)`.
 *
 * usage: node --import tsx bench/experiments/wharf-echo.ts VARIANT PORT
 *   copy        the copy as it is in src/core (must measure like the built wharf)
 *   nagle       noDelay: false (Node's default; the bare anchor runs like this)
 *   no-timer    no idle timer at all (shows what the per-chunk timer refresh costs)
 *   hwm8        back-pressure high-water mark 8 MiB instead of 1 MiB
 *   coalesce    writes of one event-loop turn go out together in the check phase (setImmediate)
 *   sweep       the idle timeout as a coarse sweep (one interval per server, a timestamp per chunk)
 *               instead of socket.setTimeout (which re-arms a timer on every read and every write)
 */
import process from 'node:process';
import { experiment } from './core/connection.js';
import { StreamServer } from './core/tcp-server.js';

const [variant = 'copy', portText = '0'] = process.argv.slice(2);
const options: { noDelay?: boolean; idleTimeoutMs?: number; writeHighWaterBytes?: number } = {};
// Switches combine with '+', e.g. `nagle+hwm8`.
for (const flag of variant.split('+')) {
  switch (flag) {
    case 'copy':
      break;
    case 'nagle':
      options.noDelay = false;
      break;
    case 'no-timer':
      options.idleTimeoutMs = 0;
      break;
    case 'hwm8':
      options.writeHighWaterBytes = 8 << 20;
      break;
    case 'sweep':
      experiment.idleTimer = 'sweep';
      break;
    case 'coalesce':
      experiment.coalesce = true;
      break;
    default:
      throw new Error(`unknown variant ${flag}`);
  }
}

const server = await StreamServer.listen({
  port: Number(portText),
  ...options,
  onConnection: (connection) => ({ data: (chunk) => void connection.write(chunk) }),
});
process.stdout.write(`echo tcp://127.0.0.1:${server.port} (${variant})\n`);
process.on('SIGTERM', () => {
  void server.stop(0).then(() => process.exit(0));
});
