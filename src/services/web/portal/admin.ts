/**
 * The portal's admin section (issue #19, "Admin"): the accounts (add, lock and unlock, reset a
 * password, set a quota) through the store's `Accounts`, the same rules as `wharf user`, and the
 * live status of every service. The portal lets only an admin account's requests through, each
 * state-changing one same-origin and with its CSRF token.
 *
 *   GET   /portal/api/admin/accounts   every account, with used and quota bytes
 *   POST  /portal/api/admin/accounts   { name, password, admin?, quota? }: a new account
 *   PATCH /portal/api/admin/accounts   { name, disabled?, password?, quota?, admin? }: change one
 *   GET   /portal/api/admin/status     what `wharf status` shows
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseSize } from '../../../core/config.js';
import { WharfError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { portalAssetPath, type PortalRequest, type PortalSection } from '../../../core/portal.js';
import { readJsonBody, sendJson, sendPortalError } from '../../../core/portal-http.js';
import type { ServiceStatusLine } from '../../../core/service.js';
import type { Account } from '../../../store/accounts.js';
import type { AdminAccount } from './admin-types.js';
import type { Store } from '../../../store/database.js';

const MAX_BODY_BYTES = 8 * 1024;

export interface AdminSectionOptions {
  store: Store;
  statuses: () => Promise<ServiceStatusLine[]>;
  logger: Logger;
}


function shown(account: Account): AdminAccount {
  return { name: account.name, admin: account.role === 'admin', disabled: account.disabled, quotaBytes: account.quotaBytes, bytesUsed: account.bytesUsed, createdAt: account.createdAt.toISOString() };
}

function fieldsOf(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new WharfError('EBADVALUE', 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

function text(fields: Record<string, unknown>, key: string, required: true): string;
function text(fields: Record<string, unknown>, key: string, required: false): string | undefined;
function text(fields: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const value = fields[key];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string') throw new WharfError('EBADVALUE', `${key} must be text`);
  return value;
}

function flag(fields: Record<string, unknown>, key: string): boolean | undefined {
  const value = fields[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new WharfError('EBADVALUE', `${key} must be true or false`);
  return value;
}

/** A quota as bytes or a size such as `500M` (the same words as `wharf user quota`). */
function quota(fields: Record<string, unknown>): number | undefined {
  const value = fields.quota;
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'number' && typeof value !== 'string') throw new WharfError('EBADVALUE', 'quota must be a number of bytes or a size such as 500M');
  try {
    return parseSize(value);
  } catch (error) {
    throw new WharfError('EBADVALUE', (error as Error).message);
  }
}

export function adminSection(options: AdminSectionOptions): PortalSection {
  const { store, statuses, logger } = options;
  const accounts = store.accounts;

  async function answer(req: IncomingMessage, res: ServerResponse, request: PortalRequest): Promise<void> {
    const admin = request.user?.name ?? '';
    if (request.path === '/status') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed();
      sendJson(res, 200, { services: await statuses() });
      return;
    }
    if (request.path !== '/accounts') throw new WharfError('EMISSING', 'there is no such admin request');
    if (req.method === 'GET' || req.method === 'HEAD') {
      sendJson(res, 200, { accounts: (await accounts.list()).map(shown) });
      return;
    }
    const fields = fieldsOf(await readJsonBody(req, MAX_BODY_BYTES));
    const name = text(fields, 'name', true);
    if (req.method === 'POST') {
      const created = await accounts.add(name, text(fields, 'password', true), { role: flag(fields, 'admin') === true ? 'admin' : 'user', quota: quota(fields) });
      logger.info({ account: created.name, by: admin, peer: request.peer }, `account ${created.name} added by ${admin} (portal)`);
      sendJson(res, 201, { account: shown(created) });
      return;
    }
    if (req.method !== 'PATCH') throw methodNotAllowed();
    const target = await accounts.get(name);
    if (target === undefined) throw new WharfError('ENOUSER', `there is no account named "${name}"`);
    const disabled = flag(fields, 'disabled');
    const role = flag(fields, 'admin');
    // An administrator who locks or demotes themselves out has no page left to undo it from.
    if (target.name === admin && (disabled === true || role === false)) throw new WharfError('EBADVALUE', 'you cannot lock your own account or take away your own admin role here; use `wharf user` on the server');
    const password = text(fields, 'password', false);
    const bytes = quota(fields);
    if (password !== undefined) await accounts.setPassword(target.name, password);
    if (bytes !== undefined) await accounts.setQuota(target.name, bytes);
    if (disabled !== undefined) await accounts.setDisabled(target.name, disabled);
    if (role !== undefined) await accounts.setRole(target.name, role ? 'admin' : 'user');
    const changes = [password !== undefined && 'password', bytes !== undefined && 'quota', disabled !== undefined && (disabled ? 'locked' : 'unlocked'), role !== undefined && 'role'].filter(Boolean).join(', ');
    logger.info({ account: target.name, by: admin, peer: request.peer, changes }, `account ${target.name} changed by ${admin} (portal): ${changes || 'nothing'}`);
    const now = await accounts.get(target.name);
    sendJson(res, 200, { account: now === undefined ? undefined : shown(now) });
  }

  return {
    id: 'admin',
    title: { en: 'Admin', zh: '管理' },
    order: 90,
    needsAccount: true,
    needsAdmin: true,
    script: portalAssetPath('pages/web.js'),
    handle: (req, res, request) => answer(req, res, request).catch((error: unknown) => sendPortalError(res, error, logger)),
  };
}

function methodNotAllowed(): WharfError {
  return new WharfError('EUSAGE', 'this request does not take that method');
}
