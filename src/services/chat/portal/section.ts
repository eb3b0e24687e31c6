/**
 * The chat's section of the browser portal (core/portal.ts): the page at `/chat`, its script, and
 * the WebSocket at `/portal/api/chat/socket` that the web service hands over once it has checked
 * the Origin and found the signed-in account.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { portalAssetPath, type PortalRequest, type PortalSection } from '../../../core/portal.js';
import type { WebFrontEnd } from './web-front-end.js';

/** The path of the chat's WebSocket below the section's API root. */
export const CHAT_SOCKET_PATH = '/socket';

/** Answer an upgrade with a plain HTTP refusal and close the socket. */
function refuseUpgrade(socket: Duplex, status: number, reason: string, sentence: string): void {
  const body = `${sentence}\n`;
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/**
 * The section. A browser member chats under its account's name: the account proves the name,
 * so nobody on the web can speak as someone else, and a portal visitor who is not signed in sees
 * the sign-in form. (Seed clients still pick a free name, as the seed protocol has no password.)
 */
export function chatPortalSection(front: WebFrontEnd, options: { maxMessageBytes: number }): PortalSection {
  // No compression: chat messages are short, and compressing what a peer chose next to what it
  // did not (another member's text) is how CRIME-style attacks read secrets.
  const server = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes, perMessageDeflate: false, clientTracking: false });
  return {
    id: 'chat',
    title: { en: 'Chat', zh: '聊天室' },
    order: 10,
    needsAccount: true,
    script: portalAssetPath('pages/chat.js'),
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, request: PortalRequest): void {
      socket.on('error', () => socket.destroy());
      if (request.user === undefined) return refuseUpgrade(socket, 401, 'Unauthorized', 'sign in to the portal to chat');
      // The web service has checked it; checked again, since a page elsewhere must never get in.
      const origin = req.headers.origin;
      if (origin !== undefined && origin.toLowerCase() !== request.origin.toLowerCase()) return refuseUpgrade(socket, 403, 'Forbidden', 'a page of another site may not open the chat');
      if (request.path !== CHAT_SOCKET_PATH) return refuseUpgrade(socket, 404, 'Not Found', `the chat's WebSocket is at /portal/api/chat${CHAT_SOCKET_PATH}`);
      if (front.stopping) return refuseUpgrade(socket, 503, 'Service Unavailable', 'the chat is shutting down');
      const user = request.user;
      server.handleUpgrade(req, socket, head, (ws) => front.accept(ws, { account: user.name, address: `${request.peer}:${req.socket.remotePort ?? 0}` }));
    },
  };
}
