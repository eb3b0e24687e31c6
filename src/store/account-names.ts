/**
 * Account names: what may be one, and when two are the same (docs/accounts.md, "Names").
 * Pure: no I/O, so that the chat's protocol.ts can apply the same rules to its nicknames.
 */

/** Longest name, in characters (code points) as typed. */
export const MAX_NAME_LENGTH = 64;
/**
 * Longest name key (see `accountNameKey`): NFKC can turn one character into up to 18 (U+FDFA),
 * and the key column is varchar(255) so that MySQL can index it.
 */
export const MAX_NAME_KEY_LENGTH = 255;

/**
 * Names nobody may register, compared by key (so `Admin` and `ＡＤＭＩＮ` too): the accounts of
 * Unix systems and mail servers that people and programs treat as the system itself, the FTP
 * login names of anonymous access, wharf's own name, and the chat console's "administrator" and
 * "system". Accounts made before this list existed keep working; only new ones are refused.
 * The role (`--admin`), never the name, is what gives rights.
 */
export const RESERVED_ACCOUNT_NAMES: ReadonlySet<string> = new Set([
  'root', 'admin', 'administrator', 'sysadmin', 'superuser', 'su', 'sudo', 'system', 'daemon', 'bin', 'sys',
  'nobody', 'nogroup', 'operator', 'anonymous', 'ftp', 'guest', 'www', 'www-data', 'wharf',
  'postmaster', 'hostmaster', 'webmaster', 'mailer-daemon', 'abuse', 'security', 'noc',
  'support', 'staff', 'moderator', 'owner', 'localhost', '管理员', '管理员消息', '系统', '系统消息',
]);

/**
 * What no name may hold, ever: white space (every kind, NBSP and U+3000 included), control and
 * format characters (bidi overrides, zero-width joiners and spaces), lone surrogates, slashes.
 */
const FORBIDDEN_IN_NAME = /[\p{White_Space}\p{Cc}\p{Cf}\p{Cs}/\\]/u;
/**
 * What a new name may not hold either: characters that show as nothing (Hangul fillers, variation
 * selectors, the combining grapheme joiner), private-use characters, and unassigned code points
 * (a later Unicode may give them a case, which would change their key).
 */
const FORBIDDEN_IN_NEW_NAME = /[\p{Default_Ignorable_Code_Point}\p{Co}\p{Cn}]/u;

/**
 * The key two names are the same by: NFKC (compatibility forms: fullwidth `ａｌｉｃｅ`, `ﬁ`,
 * the Kelvin sign), then case-folded (upper then lower case, which folds `ß` to `ss` and final
 * `ς` to `σ` as Unicode's case folding does, and a few more such as dotless `ı` to `i`: that only
 * makes more lookalikes one name), then NFKC again. The keys of existing accounts are stored
 * (migration 0006): changing this function needs a migration that recomputes them.
 */
export function accountNameKey(name: string): string {
  return name.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');
}

/**
 * Why `name` cannot be the name of any account, old or new, or undefined when it can: 1 to 64
 * characters, no white space, control or format characters, no `/` or `\`, not `.` or `..` (a
 * name becomes a home folder). Lookups use these rules, so accounts made by an older wharf keep
 * working; a new account must also pass `newAccountNameProblem`.
 */
export function accountNameProblem(name: string): string | undefined {
  const normalized = name.normalize('NFC');
  const length = [...normalized].length;
  if (length === 0) return 'it is empty';
  if (length > MAX_NAME_LENGTH) return `it is longer than ${MAX_NAME_LENGTH} characters`;
  return charactersProblem(normalized);
}

function charactersProblem(name: string): string | undefined {
  if (FORBIDDEN_IN_NAME.test(name)) return 'it contains a space, a control character or a slash';
  if (name === '.' || name === '..') return 'it is "." or ".."';
  return undefined;
}

/**
 * Why `name` cannot be given to a new account: the rules of `accountNameProblem`, applied to the
 * name and to its key (so a fullwidth `／` or a one-dot leader `․` cannot become a slash or a
 * dot), no invisible, private-use or unassigned characters, and not a reserved name.
 */
export function newAccountNameProblem(name: string): string | undefined {
  const problem = accountNameProblem(name);
  if (problem) return problem;
  if (FORBIDDEN_IN_NEW_NAME.test(name)) return 'it contains an invisible, private-use or unassigned character';
  const key = accountNameKey(name);
  if ([...key].length > MAX_NAME_KEY_LENGTH) return `its compatibility form is longer than ${MAX_NAME_KEY_LENGTH} characters`;
  const keyProblem = charactersProblem(key);
  if (keyProblem) return `it reads as ${JSON.stringify(key)}, and ${keyProblem}`;
  if (RESERVED_ACCOUNT_NAMES.has(key)) return `"${key}" is reserved`;
  return undefined;
}
