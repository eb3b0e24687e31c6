/**
 * How fast can one process take 100 MiB from a loopback TCP connection, with nothing written?
 * The ceiling under an FTP STOR (docs/ftp.md, "Upload speed").
 *
 *   node --import tsx bench/experiments/tcp-receive.mts [ROUNDS]
 *
 * A Python sender (sendall of 64 KiB slices, the file read before it connects) feeds, in turn:
 *   - python recv:    a Python loop of recv(65536), what pyftpdlib's STOR does before writing;
 *   - node 'data':    a Node server socket read as a stream (what a net.Server hands out): libuv
 *                     reads up to 64 KiB into a new buffer each time, and each becomes a 'data' event;
 *   - node onread:    a Node client socket with the `onread` option (one reused 1 MiB buffer, no
 *                     allocation per read). Node offers it only to sockets it creates, not to those
 *                     a net.Server accepts, so a passive-mode FTP data connection cannot use it.
 * Each line is one transfer's rate: bytes over the time from accept/connect to the end.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROUNDS = Number(process.argv[2] ?? 3);
const BYTES = 100 * 1024 * 1024;
const dir = join(import.meta.dirname, '..', '.tmp');
const source = join(dir, 'tcp-receive-100m.bin');
mkdirSync(dir, { recursive: true });
if (!existsSync(source)) writeFileSync(source, randomBytes(BYTES));

const SENDER = `
import socket, sys
data = open(sys.argv[1], 'rb').read()
s = socket.create_connection(('127.0.0.1', int(sys.argv[2])))
mv = memoryview(data)
for i in range(0, len(data), 65536):
    s.sendall(mv[i:i + 65536])
s.shutdown(socket.SHUT_WR); s.close()
`;
const PY_RECEIVER = `
import socket, subprocess, sys, time
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()
for _ in range(int(sys.argv[2])):
    p = subprocess.Popen([sys.executable, '-c', sys.argv[3], sys.argv[1], str(srv.getsockname()[1])])
    c, _ = srv.accept(); t0 = time.perf_counter(); n = 0
    while True:
        b = c.recv(65536)
        if not b: break
        n += len(b)
    dt = time.perf_counter() - t0; c.close(); p.wait()
    print(round(n / 1e6 / dt))
`;
const PY_SERVER = `
import socket, sys
data = open(sys.argv[1], 'rb').read()
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept(); c.sendall(data); c.close()
`;

const rate = (bytes: number, started: number) => Math.round(bytes / 1e6 / ((performance.now() - started) / 1000));

const python = (await run('python3', ['-c', PY_RECEIVER, source, String(ROUNDS), SENDER])).stdout.trim().split('\n');
console.log(`python recv   ${python.join(', ')} MB/s`);

const dataRates: number[] = [];
const server = net.createServer((socket) => {
  const started = performance.now();
  let bytes = 0;
  socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
  socket.on('end', () => {
    dataRates.push(rate(bytes, started));
    socket.destroy();
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as net.AddressInfo).port;
for (let i = 0; i < ROUNDS; i++) await run('python3', ['-c', SENDER, source, String(port)]);
server.close();
console.log(`node 'data'   ${dataRates.join(', ')} MB/s`);

const feeder = spawn('python3', ['-c', PY_SERVER, source], { stdio: ['ignore', 'pipe', 'inherit'] });
const feederPort = await new Promise<number>((resolve) => feeder.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
const onreadRates: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const started = performance.now();
  let bytes = 0;
  await new Promise<void>((resolve) => {
    const socket = net.connect({ port: feederPort, host: '127.0.0.1', onread: { buffer: Buffer.allocUnsafe(1 << 20), callback: (n: number) => ((bytes += n), true) } });
    socket.on('end', () => {
      socket.destroy();
      resolve();
    });
  });
  onreadRates.push(rate(bytes, started));
}
feeder.kill();
console.log(`node onread   ${onreadRates.join(', ')} MB/s`);
