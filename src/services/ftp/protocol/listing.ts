/**
 * Directory listings, pure: `ls -l` lines, RFC 3659 facts (MLST/MLSD), LIST options and
 * wildcards, and the YYYYMMDDHHMMSS times of MDTM, MFMT and the modify fact.
 */

export interface EntryInfo {
  name: string;
  type: 'file' | 'dir';
  size: number;
  mtime: Date;
  /** Permission bits (0o755). */
  mode: number;
  /** For the `unique` fact: device and inode. */
  dev?: number;
  ino?: number;
  /** Owner and group shown by LIST. */
  owner?: string;
  group?: string;
  /** What the user may do with it, for the `perm` fact. */
  writable?: boolean;
}

export const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SIX_MONTHS_MS = 182 * 24 * 3600 * 1000;

function modeString(type: EntryInfo['type'], mode: number): string {
  const bits = 'rwxrwxrwx'
    .split('')
    .map((letter, i) => ((mode >> (8 - i)) & 1 ? letter : '-'))
    .join('');
  return (type === 'dir' ? 'd' : '-') + bits;
}

/**
 * One `ls -l` line (the de facto LIST format every client parses): `-rw-r--r-- 1 owner group size
 * Mon DD HH:MM name`, with the year instead of the time for dates more than six months from now.
 * Times are UTC, as the MDTM/MLSD times are.
 */
export function formatListLine(entry: EntryInfo, now: Date): string {
  const date = entry.mtime;
  const month = MONTHS[date.getUTCMonth()] as string;
  const day = String(date.getUTCDate()).padStart(2, ' ');
  const recent = Math.abs(now.getTime() - date.getTime()) < SIX_MONTHS_MS;
  const timeOrYear = recent
    ? `${String(date.getUTCHours()).padStart(2, '0')}:${String(date.getUTCMinutes()).padStart(2, '0')}`
    : ` ${date.getUTCFullYear()}`;
  const owner = (entry.owner ?? 'ftp').padEnd(8);
  const group = (entry.group ?? 'ftp').padEnd(8);
  const size = String(entry.size).padStart(13);
  const links = entry.type === 'dir' ? 2 : 1;
  return `${modeString(entry.type, entry.mode)} ${links} ${owner} ${group} ${size} ${month} ${day} ${timeOrYear} ${entry.name}`;
}

/** The RFC 3659 facts wharf offers, in the order it writes them. */
export const MLST_FACTS = ['type', 'size', 'modify', 'perm', 'unique', 'unix.mode'] as const;
export type MlstFact = (typeof MLST_FACTS)[number];

/** `OPTS MLST type;size;` → the facts to show (unknown names are ignored, as RFC 3659 says). */
export function parseMlstOpts(argument: string): MlstFact[] {
  const wanted = new Set(argument.toLowerCase().split(';').map((s) => s.trim()).filter(Boolean));
  return MLST_FACTS.filter((fact) => wanted.has(fact));
}

/** `type=file;size=5;modify=20240101120000;perm=adfrw; name` (the space before the name is part of the format). */
export function formatFacts(entry: EntryInfo, facts: readonly MlstFact[], nameOverride?: string): string {
  const parts: string[] = [];
  for (const fact of facts) {
    switch (fact) {
      case 'type':
        parts.push(`type=${entry.type}`);
        break;
      case 'size':
        if (entry.type === 'file') parts.push(`size=${entry.size}`);
        break;
      case 'modify':
        parts.push(`modify=${formatTime(entry.mtime)}`);
        break;
      case 'perm':
        parts.push(`perm=${permFact(entry)}`);
        break;
      case 'unique':
        if (entry.dev !== undefined && entry.ino !== undefined) parts.push(`unique=${entry.dev.toString(16)}g${entry.ino.toString(16)}`);
        break;
      case 'unix.mode':
        parts.push(`UNIX.mode=0${(entry.mode & 0o777).toString(8)}`);
        break;
    }
  }
  return `${parts.map((p) => `${p};`).join('')} ${nameOverride ?? entry.name}`;
}

function permFact(entry: EntryInfo): string {
  if (entry.type === 'dir') return entry.writable ? 'cdeflmp' : 'el';
  return entry.writable ? 'adfrw' : 'r';
}

/** Parse one MLSD/MLST line (client side). */
export function parseFactsLine(line: string): { name: string; facts: Record<string, string> } | undefined {
  const space = line.indexOf(' ');
  if (space === -1) return undefined;
  const facts: Record<string, string> = {};
  for (const part of line.slice(0, space).split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) facts[part.slice(0, eq).toLowerCase()] = part.slice(eq + 1);
  }
  return { name: line.slice(space + 1), facts };
}

/** LIST and NLST arguments: `-la dir` → options `la`, path `dir`. Options are accepted and ignored except `a`. */
export function splitListArgument(argument: string): { options: string; path: string } {
  let rest = argument.trim();
  let options = '';
  while (rest.startsWith('-')) {
    const space = rest.indexOf(' ');
    const token = space === -1 ? rest : rest.slice(0, space);
    // `-` alone or a token with odd characters is a name, not options.
    if (!/^-[a-zA-Z1]+$/.test(token)) break;
    options += token.slice(1);
    rest = space === -1 ? '' : rest.slice(space + 1).trimStart();
  }
  return { options, path: rest };
}

/** Does a name have shell wildcards (`*`, `?`, `[...]`)? LIST and NLST expand them in the last segment. */
export function hasWildcards(name: string): boolean {
  return /[*?[]/.test(name);
}

/** A shell wildcard (`*.txt`, `report-??.pdf`, `[ab]*`) as a matcher for one name. Dot files match only an explicit dot. */
export function wildcardMatcher(pattern: string): (name: string) => boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close === -1) {
        source += '\\[';
        continue;
      }
      let set = pattern.slice(i + 1, close);
      const negate = set.startsWith('!') || set.startsWith('^');
      if (negate) set = set.slice(1);
      source += `[${negate ? '^' : ''}${set.replace(/[\\\]^]/g, (c) => `\\${c}`)}]`;
      i = close;
    } else source += char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  const regex = new RegExp(`^${source}$`, 'u');
  return (name) => (pattern.startsWith('.') || !name.startsWith('.')) && regex.test(name);
}

// ---------------------------------------------------------------------------------------------
// Times: MDTM, MFMT and the modify fact are YYYYMMDDHHMMSS[.sss] in UTC (RFC 3659 §2.3)

export function formatTime(date: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`;
}

export function parseTime(text: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?$/.exec(text.trim());
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  const date = new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, s, match[7] ? Number(match[7].padEnd(3, '0')) : 0));
  if (Number.isNaN(date.getTime()) || date.getUTCMonth() !== (mo as number) - 1 || date.getUTCDate() !== d) return undefined;
  return date;
}
