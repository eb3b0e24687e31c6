// The bare node:dgram echo wharf's UDP echo is measured against.
// usage: node bench/anchors/node-udp-echo.mjs PORT
import dgram from 'node:dgram';
import process from 'node:process';

const port = Number(process.argv[2]);
const socket = dgram.createSocket('udp4');
socket.on('message', (message, peer) => socket.send(message, peer.port, peer.address));
socket.on('error', () => {});
socket.bind(port, '127.0.0.1');
