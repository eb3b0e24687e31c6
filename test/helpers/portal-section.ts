/**
 * A section of the portal (core/portal.ts) on its own, for its API's tests: a real HTTP server on
 * loopback that gives every request under `/portal/api/<id>/` to the section as the account
 * `user` (or a visitor), the way the web service does once sign-in and CSRF have passed.
 * The web service's own tests check sign-in, CSRF and Origin; a section's tests check the section.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PortalSection, PortalUser } from '../../src/core/portal.js';

export interface SectionServer {
  /** `http://127.0.0.1:PORT/portal/api/<id>` */
  readonly base: string;
  readonly origin: string;
  /** Who the requests come from from now on. */
  user: PortalUser | undefined;
  close(): Promise<void>;
}

export async function serveSection(section: PortalSection, user: PortalUser | undefined): Promise<SectionServer> {
  const prefix = `/portal/api/${section.id}`;
  const state: { user: PortalUser | undefined; origin: string } = { user, origin: '' };
  const requestOf = (req: http.IncomingMessage) => {
    const url = new URL(req.url ?? '/', state.origin);
    const path = url.pathname.slice(prefix.length) || '/';
    return { user: state.user, path, query: url.searchParams, peer: '127.0.0.1', origin: state.origin, secure: false };
  };
  const server = http.createServer((req, res) => {
    if (!(req.url ?? '').startsWith(prefix) || section.handle === undefined) {
      res.writeHead(404).end();
      return;
    }
    void section.handle(req, res, requestOf(req));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket, head: Buffer) => {
    if (!(req.url ?? '').startsWith(prefix) || section.upgrade === undefined) {
      socket.destroy();
      return;
    }
    section.upgrade(req, socket, head, requestOf(req));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  state.origin = `http://127.0.0.1:${port}`;
  return {
    base: `${state.origin}${prefix}`,
    origin: state.origin,
    get user() {
      return state.user;
    },
    set user(next) {
      state.user = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
