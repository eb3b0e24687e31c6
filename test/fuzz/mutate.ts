/**
 * Mutations of valid protocol messages, as fast-check arbitraries.
 *
 * A fuzz case is a valid message (from a service's seed corpus) with zero to four mutations
 * applied in order. Mutations are plain data (kind, offsets, values), so fast-check prints a
 * failing case in a form a person can read and replay; offsets are taken modulo the length of
 * the message at that point, so every mutation applies to every message.
 */
import fc from 'fast-check';

/** Byte sequences that break parsers: NUL, invalid UTF-8, line breaks, path and number tricks. */
export const HOSTILE_INSERTS: ReadonlyArray<readonly [name: string, bytes: Buffer]> = [
  ['NUL', Buffer.from([0])],
  ['invalid UTF-8 C3 28', Buffer.from([0xc3, 0x28])],
  ['byte FF', Buffer.from([0xff])],
  ['BOM bytes FE FF', Buffer.from([0xfe, 0xff])],
  ['overlong slash C0 AF', Buffer.from([0xc0, 0xaf])],
  ['lone surrogate ED A0 80', Buffer.from([0xed, 0xa0, 0x80])],
  ['past U+10FFFF F4 90 80 80', Buffer.from([0xf4, 0x90, 0x80, 0x80])],
  ['cut multi-byte E4 BD', Buffer.from([0xe4, 0xbd])],
  ['CRLF', Buffer.from('\r\n')],
  ['CR', Buffer.from('\r')],
  ['LF', Buffer.from('\n')],
  ['blank line', Buffer.from('\r\n\r\n')],
  ['dot line', Buffer.from('\r\n.\r\n')],
  ['percent NUL', Buffer.from('%00')],
  ['lone percent', Buffer.from('%')],
  ['dot-dot', Buffer.from('../../')],
  ['quote', Buffer.from('"')],
  ['backslash', Buffer.from('\\')],
  ['space', Buffer.from(' ')],
  ['tab', Buffer.from('\t')],
  ['brace', Buffer.from('{')],
  ['huge number', Buffer.from('99999999999999999999999999')],
  ['2^32', Buffer.from('4294967296')],
  ['2^31', Buffer.from('2147483648')],
  ['2^16', Buffer.from('65536')],
  ['minus one', Buffer.from('-1')],
  ['1e308', Buffer.from('1e308')],
  ['NaN', Buffer.from('NaN')],
  ['uint32 max, binary', Buffer.from([0xff, 0xff, 0xff, 0xff])],
  ['uint16 max, binary', Buffer.from([0xff, 0xff])],
];

/** Numbers that sit on a boundary or far past it, written where a message has digits. */
export const HOSTILE_NUMBERS = ['0', '-1', '-0', '1e308', 'NaN', '0x10', '65535', '65536', '2147483648', '4294967296', '9007199254740993', '9'.repeat(40)] as const;

/** Lengths of a long field: just past the usual limits (1 KiB lines, 4 KiB text, 64 KiB frames), and 1 MiB. */
export const LONG_FIELD_BYTES = [257, 1_025, 4_097, 8_193, 65_537, 1_048_577] as const;

/** Mutated messages never grow past this (a repeat of a repeat could otherwise reach gigabytes). */
export const MAX_MUTATED_BYTES = 2 * 1024 * 1024;

export type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'repeat'; at: number; length: number; times: number }
  | { kind: 'insert'; at: number; what: string }
  | { kind: 'random'; at: number; bytes: Uint8Array }
  | { kind: 'long'; at: number; length: number; byte: number }
  | { kind: 'number'; which: number; value: string }
  | { kind: 'uint'; at: number; width: 1 | 2 | 4; value: number }
  | { kind: 'splice'; at: number; other: number; from: number; to: number };

const position = fc.nat({ max: 1 << 20 });

export const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('repeat' as const), at: position, length: fc.integer({ min: 1, max: 64 }), times: fc.constantFrom(2, 3, 10, 100, 1_000, 20_000) }),
  { arbitrary: fc.record({ kind: fc.constant('insert' as const), at: position, what: fc.constantFrom(...HOSTILE_INSERTS.map(([name]) => name)) }), weight: 3 },
  fc.record({ kind: fc.constant('random' as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }) }),
  fc.record({ kind: fc.constant('long' as const), at: position, length: fc.constantFrom(...LONG_FIELD_BYTES), byte: fc.constantFrom(0x41, 0x20, 0x00, 0xff, 0x0a) }),
  { arbitrary: fc.record({ kind: fc.constant('number' as const), which: fc.nat({ max: 16 }), value: fc.constantFrom(...HOSTILE_NUMBERS) }), weight: 2 },
  fc.record({ kind: fc.constant('uint' as const), at: position, width: fc.constantFrom(1 as const, 2 as const, 4 as const), value: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0xffffffff) }),
  fc.record({ kind: fc.constant('splice' as const), at: position, other: fc.nat({ max: 1_000 }), from: position, to: position }),
);

const insertBytes = new Map(HOSTILE_INSERTS.map(([name, bytes]) => [name, bytes]));

const insertAt = (message: Buffer, at: number, bytes: Uint8Array): Buffer => {
  const cut = at % (message.length + 1);
  return Buffer.concat([message.subarray(0, cut), bytes, message.subarray(cut)]);
};

/** Runs of ASCII digits, where out-of-range numbers go. */
function digitRuns(message: Buffer): Array<[start: number, end: number]> {
  const runs: Array<[number, number]> = [];
  for (let i = 0; i < message.length; i++) {
    if (message[i]! < 0x30 || message[i]! > 0x39) continue;
    const start = i;
    while (i < message.length && message[i]! >= 0x30 && message[i]! <= 0x39) i++;
    runs.push([start, i]);
  }
  return runs;
}

export function applyMutation(message: Buffer, mutation: Mutation, seeds: readonly Buffer[]): Buffer {
  switch (mutation.kind) {
    case 'truncate':
      return message.subarray(0, mutation.at % (message.length + 1));
    case 'flip': {
      if (message.length === 0) return message;
      const out = Buffer.from(message);
      out[mutation.at % out.length]! ^= 1 << mutation.bit;
      return out;
    }
    case 'repeat': {
      if (message.length === 0) return message;
      const start = mutation.at % message.length;
      const slice = message.subarray(start, start + mutation.length);
      const times = Math.min(mutation.times, Math.floor(MAX_MUTATED_BYTES / slice.length));
      return Buffer.concat([message.subarray(0, start), Buffer.alloc(slice.length * times, slice), message.subarray(start)]);
    }
    case 'insert':
      return insertAt(message, mutation.at, insertBytes.get(mutation.what)!);
    case 'random':
      return insertAt(message, mutation.at, mutation.bytes);
    case 'long':
      return insertAt(message, mutation.at, Buffer.alloc(mutation.length, mutation.byte));
    case 'number': {
      const runs = digitRuns(message);
      if (runs.length === 0) return message;
      const [start, end] = runs[mutation.which % runs.length]!;
      return Buffer.concat([message.subarray(0, start), Buffer.from(mutation.value), message.subarray(end)]);
    }
    case 'uint': {
      if (message.length < mutation.width) return message;
      const out = Buffer.from(message);
      out.writeUIntBE(mutation.value % 2 ** (8 * mutation.width), mutation.at % (out.length - mutation.width + 1), mutation.width);
      return out;
    }
    case 'splice': {
      const other = seeds[mutation.other % seeds.length]!;
      const from = mutation.from % (other.length + 1);
      const to = from + (mutation.to % (other.length - from + 1));
      return insertAt(message, mutation.at, other.subarray(from, to));
    }
  }
}

export interface FuzzCase {
  /** Index into the seed corpus. */
  seed: number;
  mutations: Mutation[];
}

/** One fuzz case: a seed message and up to four mutations (none at all now and then: valid input must keep working). */
export const fuzzCaseArbitrary: fc.Arbitrary<FuzzCase> = fc.record({
  seed: fc.nat({ max: 10_000 }),
  mutations: fc.array(mutationArbitrary, { minLength: 0, maxLength: 4 }),
});

/** The bytes of a fuzz case, capped at `maxBytes` (a UDP datagram cannot carry more than 65,507). */
export function materialise(fuzzCase: FuzzCase, seeds: readonly Buffer[], maxBytes = MAX_MUTATED_BYTES): Buffer {
  let message = seeds[fuzzCase.seed % seeds.length]!;
  for (const mutation of fuzzCase.mutations) message = applyMutation(message, mutation, seeds).subarray(0, MAX_MUTATED_BYTES);
  return message.subarray(0, maxBytes);
}
