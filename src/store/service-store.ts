import { WharfError } from '../core/errors.js';
import type { ServiceContext } from '../core/service.js';
import type { Store } from './database.js';

/**
 * The store the host opened for a service that `uses: ['store']`, read from `ctx.resources`
 * (typed loosely in core, which knows no store). Undefined when the host opened none: a service
 * that can run without accounts (chat, dict, exec) checks; one that cannot calls `requireStore`.
 * Anything else under `resources.store` is the host's bug, and says so.
 */
export function storeOf(ctx: Pick<ServiceContext, 'resources'>): Store | undefined {
  const value = ctx.resources.store;
  if (value === undefined) return undefined;
  if (!isStore(value)) throw new TypeError('ctx.resources.store is not a Store (the host must put openStore()\'s result there)');
  return value;
}

/** The store, or one sentence saying that `service` cannot run without it. */
export function requireStore(ctx: Pick<ServiceContext, 'resources'>, service: string): Store {
  const store = storeOf(ctx);
  if (!store) throw new WharfError('ESTORE', `${service} needs the store (accounts and quotas): run it with \`wharf serve\` or \`wharf ${service} serve\``);
  return store;
}

// By shape, not instanceof: this module is imported by every service that may use the store, and
// must not load the database drivers into a client command that never opens one.
function isStore(value: unknown): value is Store {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { accounts?: { verify?: unknown }; quota?: { reserve?: unknown }; close?: unknown };
  return typeof candidate.accounts?.verify === 'function' && typeof candidate.quota?.reserve === 'function' && typeof candidate.close === 'function';
}
