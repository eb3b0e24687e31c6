// The bare node:net echo wharf is measured against: nothing but `socket.write(data)` per chunk.
// usage: node bench/anchors/node-echo.mjs PORT
import net from 'node:net';
import process from 'node:process';

const port = Number(process.argv[2]);
net
  .createServer((socket) => {
    socket.on('data', (d) => socket.write(d));
    socket.on('error', () => {}); // a peer that resets must not end the benchmark
  })
  .listen(port, '127.0.0.1');
