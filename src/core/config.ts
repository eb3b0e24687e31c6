import { z } from 'zod';

/** Settings every network service shares; a service's schema extends these. */
export const listenSchema = {
  /** 127.0.0.1 unless the user chooses to face a network. */
  host: z.string().min(1).default('127.0.0.1'),
};

export const portSchema = z.number().int().min(0).max(65535);

/** Limits of a stream (TCP) service. Defaults are generous for a LAN and still bounded. */
export const streamLimitsSchema = {
  maxConnections: z.number().int().positive().default(10_000),
  maxConnectionsPerIp: z.number().int().min(0).default(512),
  idleTimeoutMs: z.number().int().min(0).default(300_000),
  writeHighWaterBytes: z.number().int().positive().default(1024 * 1024),
  maxWriteQueueBytes: z.number().int().positive().default(16 * 1024 * 1024),
};

/** `1048576`, `512K`, `500M`, `1G`, `1GiB`, `2 MB` → bytes (binary multiples, as disks are sold to programmers). */
export function parseSize(text: string | number): number {
  if (typeof text === 'number') return text;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!match) throw new Error(`not a size: ${JSON.stringify(text)} (try 1048576, 512K, 500M or 1G)`);
  const exponent = ' kmgt'.indexOf((match[2] ?? '').toLowerCase() || ' ');
  const bytes = Number(match[1]) * 1024 ** exponent;
  if (!Number.isSafeInteger(Math.round(bytes))) throw new Error(`size too large: ${text}`);
  return Math.round(bytes);
}

/** A zod size field: accepts a number of bytes or a string such as `1G`. */
export const sizeSchema = z.union([z.number().int().min(0), z.string()]).transform((value, ctx) => {
  try {
    return parseSize(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

/** Render zod issues as `key.path: message` lines, so a bad config names the bad key. */
export function describeConfigIssues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      return `${path || '(config)'}: ${issue.message}`;
    })
    .join('\n');
}
