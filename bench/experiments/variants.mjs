// Echo server variants for the pipelined-traffic investigation (see docs/benchmarks.md).
// usage: node bench/experiments/variants.mjs VARIANT PORT
//   bare      the anchor: socket.write(d) per 'data' (Node's default: Nagle ON)
//   nodelay   the same with TCP_NODELAY (what wharf and asyncio do)
//   cork      nodelay + cork on the first write of an event-loop turn, uncork in process.nextTick
//   immediate nodelay + queue the chunks, flush them with one write (Buffer.concat) on setImmediate
import { Buffer } from 'node:buffer';
import net from 'node:net';
import process from 'node:process';
import { setImmediate } from 'node:timers';

const [variant, portText] = process.argv.slice(2);
const port = Number(portText);
const handlers = {
  bare: (socket) => socket.on('data', (d) => socket.write(d)),
  nodelay: (socket) => {
    socket.setNoDelay(true);
    socket.on('data', (d) => socket.write(d));
  },
  cork: (socket) => {
    socket.setNoDelay(true);
    const uncork = () => socket.uncork();
    socket.on('data', (d) => {
      if (socket.writableCorked === 0) {
        socket.cork();
        process.nextTick(uncork);
      }
      socket.write(d);
    });
  },
  immediate: (socket) => {
    socket.setNoDelay(true);
    let queue = [];
    const flush = () => {
      const chunks = queue;
      queue = [];
      socket.write(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    };
    socket.on('data', (d) => {
      if (queue.length === 0) setImmediate(flush);
      queue.push(d);
    });
  },
};
const handler = handlers[variant];
if (!handler) throw new Error(`unknown variant ${variant}`);
net
  .createServer((socket) => {
    socket.on('error', () => {});
    handler(socket);
  })
  .listen(port, '127.0.0.1');
