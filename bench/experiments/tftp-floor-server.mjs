/**
 * The least a lockstep TFTP server can do, in Node: for the experiment tftp-lockstep-floor.mts.
 * RRQ only, octet, the blksize option only, no retransmission, no error handling; a connected
 * socket per transfer and every DATA packet built once and kept (no allocation while it runs).
 *   node tftp-floor-server.mjs PORT FILE [SPIN_MICROS]
 * With SPIN_MICROS > 0, the event loop is kept awake that long after each send (setImmediate),
 * the technique of src/core/busy-poll.ts in ten lines.
 */
import { Buffer } from 'node:buffer';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { setImmediate } from 'node:timers';

const port = Number(process.argv[2]);
const data = readFileSync(process.argv[3]);
const spinMs = Number(process.argv[4] ?? 0) / 1000;
let spinUntil = 0;
let spinning = false;
const turn = () => {
  if (performance.now() < spinUntil) setImmediate(turn);
  else spinning = false;
};
const spin = () => {
  if (spinMs === 0) return;
  spinUntil = performance.now() + spinMs;
  if (!spinning) {
    spinning = true;
    setImmediate(turn);
  }
};
const packets = new Map();

const requests = dgram.createSocket('udp4');
requests.on('message', (request, rinfo) => {
  const fields = request.subarray(2).toString('latin1').split('\0');
  let blockSize = 512;
  for (let i = 2; i + 1 < fields.length; i += 2) if (fields[i].toLowerCase() === 'blksize') blockSize = Number(fields[i + 1]);
  const oack = blockSize === 512 ? undefined : Buffer.from(`\0\x06blksize\0${blockSize}\0`, 'latin1');
  const last = Math.floor(data.length / blockSize) + 1;
  const packet = (n) => {
    const key = `${blockSize}:${n}`;
    let p = packets.get(key);
    if (!p) {
      const offset = (n - 1) * blockSize;
      const length = Math.max(0, Math.min(blockSize, data.length - offset));
      p = Buffer.alloc(4 + length);
      p.writeUInt16BE(3, 0);
      p.writeUInt16BE(n & 0xffff, 2);
      data.copy(p, 4, offset, offset + length);
      packets.set(key, p);
    }
    return p;
  };
  const socket = dgram.createSocket('udp4');
  let block = oack ? 0 : 1;
  socket.on('message', (ack) => {
    if (((ack[2] << 8) | ack[3]) !== (block & 0xffff)) return;
    if (block === last) {
      socket.close();
      return;
    }
    block++;
    socket.send(packet(block));
    spin();
  });
  socket.bind(0, '127.0.0.1', () =>
    socket.connect(rinfo.port, rinfo.address, () => {
      socket.send(oack ?? packet(1));
      spin();
    }),
  );
});
requests.bind(port, '127.0.0.1');
