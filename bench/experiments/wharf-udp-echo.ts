/**
 * wharf's UDP echo (DatagramServer + the echo service's onMessage) on a copy of src/core, with
 * switches for the changes under test.
 *
 * usage: node --import tsx bench/experiments/wharf-udp-echo.ts VARIANT PORT
 *   copy      the copy as it is in src/core: socket.send(data, port, address, callback)
 *   no-cb     socket.send(data, port, address) without a per-datagram callback
 */
import process from 'node:process';
import { DatagramServer, udpExperiment } from './core/udp-server.js';

const [variant = 'copy', portText = '0'] = process.argv.slice(2);
if (variant === 'no-cb') udpExperiment.sendCallback = false;
else if (variant !== 'copy') throw new Error(`unknown variant ${variant}`);

const server = await DatagramServer.bind({
  port: Number(portText),
  onMessage(message, peer, self) {
    self.reply(peer, message); // answerFor({ kind: 'echo' }, message) is the message itself
  },
});
process.stdout.write(`echo udp://127.0.0.1:${server.port} (${variant})\n`);
process.on('SIGTERM', () => {
  void server.stop().then(() => process.exit(0));
});
