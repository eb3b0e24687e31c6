/**
 * The diary's portal section on its own (test/helpers/portal-section.ts) over a real diary server
 * (UDP, port 0), and a small Server-Sent Events reader that sees the raw stream: event ids,
 * comments, the end of the response.
 */
import http from 'node:http';
import type { PortalUser } from '../../../src/core/portal.js';
import { serveSection, type SectionServer } from '../../helpers/portal-section.js';
import { startDiary, type DiaryFixture } from './support.js';
import type { DiaryConfig } from '../../../src/services/diary/server.js';

export const ALICE: PortalUser = { name: 'alice', admin: false };
export const BOB: PortalUser = { name: 'bob', admin: false };

export interface PortalDiary extends DiaryFixture {
  http: SectionServer;
}

const servers: SectionServer[] = [];

export async function closeSections(): Promise<void> {
  for (const server of servers.splice(0)) await server.close();
}

/** A diary server with alice and bob, and its portal section served as `user`. */
export async function startPortalDiary(user: PortalUser | undefined, overrides: Partial<Record<keyof DiaryConfig, unknown>> = {}): Promise<PortalDiary> {
  const fixture = await startDiary(overrides);
  await fixture.store.accounts.add('alice', 'alice-password');
  await fixture.store.accounts.add('bob', 'bob-password');
  await fixture.store.accounts.add('carol', 'carol-password', { role: 'admin' });
  const server = await serveSection(fixture.server.portalSection(), user);
  servers.push(server);
  return { ...fixture, http: server };
}

export interface Answer {
  status: number;
  body: { error?: string; code?: string; [key: string]: unknown };
  headers: Headers;
}

export async function call(portal: PortalDiary, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const raw = body === undefined || typeof body === 'string' || body instanceof Uint8Array;
  const response = await fetch(`${portal.http.base}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : raw ? (body as string | Uint8Array) : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Answer['body']), headers: response.headers };
}

export interface EntryJson {
  id: number;
  t: number;
  text: string;
  by?: string;
}

export async function entries(portal: PortalDiary, query: string): Promise<{ entries: EntryJson[]; more: boolean; canWrite: boolean }> {
  const answer = await call(portal, 'GET', `/entries?${query}`);
  if (answer.status !== 200) throw new Error(`GET /entries?${query}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body as unknown as { entries: EntryJson[]; more: boolean; canWrite: boolean };
}

export interface ServerEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/** An open `text/event-stream` response, parsed as it arrives. */
export interface EventStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  events: ServerEvent[];
  comments: string[];
  /** The server ended the response. */
  ended: Promise<void>;
  /** Wait until `count` events have arrived (or fail after `timeoutMs`). */
  waitForEvents(count: number, timeoutMs?: number): Promise<ServerEvent[]>;
  waitFor(condition: () => boolean, timeoutMs?: number): Promise<void>;
  /** The body of a refusal (not a stream). */
  body(): Promise<string>;
  close(): void;
}

export function openEvents(portal: PortalDiary, query: string, headers: Record<string, string> = {}): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${portal.http.base}/events?${query}`, { headers: { Accept: 'text/event-stream', ...headers } }, (response) => {
      const events: ServerEvent[] = [];
      const comments: string[] = [];
      let buffered = '';
      const waiters = new Set<() => void>();
      const check = () => waiters.forEach((waiter) => waiter());
      const bodyText: string[] = [];
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        bodyText.push(chunk);
        buffered += chunk;
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const event: ServerEvent = { id: undefined, event: 'message', data: '' };
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) event.id = line.slice(4);
            else if (line.startsWith('event: ')) event.event = line.slice(7);
            else if (line.startsWith('data: ')) event.data += line.slice(6);
          }
          if (event.data !== '') events.push(event);
        }
        check();
      });
      const ended = new Promise<void>((done) => {
        response.on('end', () => done());
        response.on('close', () => done());
      });
      ended.then(check, check);
      const waitFor = (condition: () => boolean, timeoutMs = 5_000) =>
        new Promise<void>((done, fail) => {
          if (condition()) return done();
          const timer = setTimeout(() => {
            waiters.delete(waiter);
            fail(new Error(`timed out; events so far: ${JSON.stringify(events)}`));
          }, timeoutMs);
          const waiter = () => {
            if (!condition()) return;
            clearTimeout(timer);
            waiters.delete(waiter);
            done();
          };
          waiters.add(waiter);
        });
      resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        events,
        comments,
        ended,
        waitFor,
        async waitForEvents(count, timeoutMs) {
          await waitFor(() => events.length >= count, timeoutMs);
          return events;
        },
        async body() {
          await ended;
          return bodyText.join('');
        },
        close: () => request.destroy(),
      });
    });
    request.on('error', reject);
  });
}

export function dataOf(event: ServerEvent): EntryJson {
  return JSON.parse(event.data) as EntryJson;
}
