import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashes: `scrypt$N$r$p$saltB64$hashB64`, with a random 16-byte salt per password and a
 * 32-byte key. The parameters live in each hash, so raising them later leaves old hashes valid.
 * N=16384, r=8, p=1 costs about 16 MiB and some tens of milliseconds: the interactive-login
 * setting of the scrypt paper, and what Node documents as its default.
 */
export const SCRYPT_PARAMS = { N: 16384, r: 8, p: 1, saltBytes: 16, keyBytes: 32 } as const;

/** Bounds for parameters read back from the database, so a tampered row cannot ask for gigabytes. */
const LIMITS = { maxN: 1 << 20, maxR: 32, maxP: 16, minKey: 16, maxKey: 128 };

/** Longest password accepted, in UTF-16 code units: enough for any passphrase, bounded for scrypt. */
export const MAX_PASSWORD_LENGTH = 1024;

function derive(password: string, salt: Buffer, keyBytes: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyBytes, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

function scryptOptions(N: number, r: number, p: number): ScryptOptions {
  return { N, r, p, maxmem: 128 * N * r * 2 + 1024 * 1024 };
}

export async function hashPassword(password: string): Promise<string> {
  const { N, r, p, saltBytes, keyBytes } = SCRYPT_PARAMS;
  const salt = randomBytes(saltBytes);
  const key = await derive(password, salt, keyBytes, scryptOptions(N, r, p));
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function parseHash(encoded: string): ParsedHash | undefined {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map((part) => (/^\d{1,8}$/.test(part) ? Number(part) : NaN)) as [number, number, number];
  const salt = Buffer.from(parts[4] ?? '', 'base64');
  const key = Buffer.from(parts[5] ?? '', 'base64');
  const powerOfTwo = N > 1 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N > LIMITS.maxN || !(r >= 1 && r <= LIMITS.maxR) || !(p >= 1 && p <= LIMITS.maxP)) return undefined;
  if (salt.length < 8 || key.length < LIMITS.minKey || key.length > LIMITS.maxKey) return undefined;
  return { N, r, p, salt, key };
}

/** True when the hash is one this code can check (used to reject garbage before storing it). */
export function isPasswordHash(encoded: string): boolean {
  return parseHash(encoded) !== undefined;
}

/**
 * Constant-time check. A malformed hash never matches (and still costs one scrypt, so a broken
 * row is not faster to probe than a good one).
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parseHash(encoded);
  if (!parsed) {
    await derive(password, randomBytes(SCRYPT_PARAMS.saltBytes), SCRYPT_PARAMS.keyBytes, scryptOptions(SCRYPT_PARAMS.N, SCRYPT_PARAMS.r, SCRYPT_PARAMS.p));
    return false;
  }
  const candidate = await derive(password, parsed.salt, parsed.key.length, scryptOptions(parsed.N, parsed.r, parsed.p));
  return timingSafeEqual(candidate, parsed.key);
}

let dummy: Promise<string> | undefined;

/**
 * A hash of a random password nobody knows. Checking a login for an unknown name runs scrypt
 * against it, so an unknown name takes as long to refuse as a wrong password.
 */
export function dummyPasswordHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(32).toString('base64'));
  return dummy;
}
