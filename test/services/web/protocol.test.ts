import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  accessLogMessage,
  closesAfterRequest,
  requestHeadProblem,
  coalesceRanges,
  combinedLogLine,
  contentRange,
  decodeRequestTarget,
  encodePath,
  evaluatePreconditions,
  evaluateRange,
  fileEtag,
  formatHttpDate,
  formatLogTime,
  ifRangeHolds,
  multipartLayout,
  negotiateEncoding,
  parseAcceptEncoding,
  parseContentRange,
  parseEntityTags,
  parseHttpDate,
  strongMatch,
  weakMatch,
  type ByteRange,
} from '../../../src/services/web/protocol.js';
import { contentTypeFor, extensionOf, isCompressible } from '../../../src/services/web/mime.js';
import { escapeHtml, formatSize, listingPage, notFoundPage, sortListing } from '../../../src/services/web/pages.js';
import { editDistance } from '../../../src/services/web/folder-pages.js';

const segmentsOf = (target: string) => {
  const decoded = decodeRequestTarget(target, { allowWellKnown: true });
  return decoded.ok ? decoded.segments : decoded.status;
};

describe('request target decoding', () => {
  it('splits ordinary paths and keeps the query apart', () => {
    expect(decodeRequestTarget('/')).toEqual({ ok: true, segments: [], directory: true, query: '' });
    expect(decodeRequestTarget('/a/b.html?x=1&y')).toEqual({ ok: true, segments: ['a', 'b.html'], directory: false, query: 'x=1&y' });
    expect(decodeRequestTarget('/docs/')).toEqual({ ok: true, segments: ['docs'], directory: true, query: '' });
    expect(segmentsOf('//a///b')).toEqual(['a', 'b']);
  });

  it('decodes percent-encoding exactly once, UTF-8 included', () => {
    expect(segmentsOf('/a%20b/%E4%BD%A0%E5%A5%BD.txt')).toEqual(['a b', '你好.txt']);
    expect(segmentsOf('/%252e%252e')).toEqual(['%2e%2e']); // a file literally named %2e%2e
    expect(segmentsOf('/100%25')).toEqual(['100%']);
    expect(segmentsOf('/a%2Bb')).toEqual(['a+b']);
  });

  it('accepts absolute-form targets', () => {
    expect(segmentsOf('http://example.com/a/b')).toEqual(['a', 'b']);
    expect(segmentsOf('HTTPS://example.com')).toEqual([]);
    expect(segmentsOf('http://example.com?q')).toEqual([]);
  });

  it.each([
    ['/../etc/passwd', 'dot segment'],
    ['/a/../../etc/passwd', 'dot segment'],
    ['/a/./b', 'dot segment'],
    ['/..', 'dot segment'],
    ['/%2e%2e/etc/passwd', 'dot segment'],
    ['/%2E%2E/%2e%2e/etc', 'dot segment'],
    ['/.%2e/x', 'dot segment'],
    ['/%2e/x', 'dot segment'],
    ['/..%2fetc%2fpasswd', 'encoded slash'],
    ['/a%2Fb', 'encoded slash'],
    ['/..\\..\\windows', 'backslash'],
    ['/a%5c..%5cb', 'encoded backslash'],
    ['/a%5Cb', 'encoded backslash'],
    ['/a%00.html', 'NUL'],
    ['/a%0a', 'control character'],
    ['/a%7f', 'control character'],
    ['/%c0%ae%c0%ae/etc/passwd', 'not valid UTF-8'], // overlong "."
    ['/%c0%af', 'not valid UTF-8'], // overlong "/"
    ['/%e0%80%af', 'not valid UTF-8'], // 3-byte overlong "/"
    ['/%f0%80%80%af', 'not valid UTF-8'], // 4-byte overlong "/"
    ['/%ed%a0%80', 'not valid UTF-8'], // a UTF-16 surrogate
    ['/%ff', 'not valid UTF-8'],
    ['/%e4%bd', 'not valid UTF-8'], // truncated sequence
    ['/%', 'malformed'],
    ['/%4', 'malformed'],
    ['/%zz', 'malformed'],
    ['/a b', 'must be percent-encoded'],
    ['/caf\u00e9', 'must be percent-encoded'],
    ['/a#frag', 'fragment'],
    ['*', 'must start with /'],
    ['a/b', 'must start with /'],
    ['', 'empty'],
  ])('refuses %s with 400 (%s)', (target, reason) => {
    const decoded = decodeRequestTarget(target);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) {
      expect(decoded.status).toBe(400);
      expect(decoded.reason).toContain(reason);
    }
  });

  it('hides dotfiles with 404, except .well-known at the top when allowed', () => {
    for (const target of ['/.env', '/.git/config', '/a/.htpasswd', '/%2egit/HEAD', '/.well-known/x']) {
      const decoded = decodeRequestTarget(target);
      expect(decoded).toMatchObject({ ok: false, status: 404 });
    }
    expect(segmentsOf('/.well-known/acme-challenge/t')).toEqual(['.well-known', 'acme-challenge', 't']);
    expect(segmentsOf('/a/.well-known/x')).toBe(404);
    expect(segmentsOf('/a.b/c..d/...x')).toBe(404); // "...x" starts with a dot
    expect(segmentsOf('/a.b/c..d')).toEqual(['a.b', 'c..d']);
  });

  it('never yields a segment that could leave the folder, whatever the bytes (fast-check)', () => {
    const pieces = fc.constantFrom('a', '.', '..', '/', '%2e', '%2E', '%2f', '%5c', '\\', '%00', '%c0%ae', '%c0%af', '%e4%bd%a0', '%25', '%', 'é', '?', '#', 'x%2', ' ');
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 12 }), (parts) => {
        const decoded = decodeRequestTarget(`/${parts.join('')}`);
        if (!decoded.ok) return;
        for (const segment of decoded.segments) {
          expect(segment).not.toBe('');
          expect(segment).not.toBe('.');
          expect(segment).not.toBe('..');
          expect(segment.startsWith('.')).toBe(false);
          expect(segment).not.toMatch(/[/\\\0]/);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('round-trips any decoded path through encodePath (fast-check)', () => {
    // eslint-disable-next-line no-control-regex
    const segment = fc.string({ minLength: 1, maxLength: 8, unit: 'grapheme' }).filter((s) => !/[/\\\x00-\x1f\x7f]/.test(s) && !s.startsWith('.'));
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 5 }), fc.boolean(), (segments, directory) => {
        const decoded = decodeRequestTarget(encodePath(segments, directory));
        expect(decoded).toMatchObject({ ok: true, segments });
      }),
    );
  });
});

describe('Range evaluation (RFC 9110 §14)', () => {
  const partial = (...ranges: ByteRange[]) => ({ kind: 'partial', ranges });

  it('serves single, open-ended and suffix ranges', () => {
    expect(evaluateRange('bytes=0-99', 1000)).toEqual(partial({ start: 0, end: 99 }));
    expect(evaluateRange('bytes=500-', 1000)).toEqual(partial({ start: 500, end: 999 }));
    expect(evaluateRange('bytes=-100', 1000)).toEqual(partial({ start: 900, end: 999 }));
    expect(evaluateRange('bytes=990-2000', 1000)).toEqual(partial({ start: 990, end: 999 }));
    expect(evaluateRange('bytes=-5000', 1000)).toEqual(partial({ start: 0, end: 999 }));
    expect(evaluateRange('BYTES=0-0', 1000)).toEqual(partial({ start: 0, end: 0 }));
    expect(evaluateRange('bytes=999-999', 1000)).toEqual(partial({ start: 999, end: 999 }));
  });

  it('serves several ranges, sorted and coalesced', () => {
    expect(evaluateRange('bytes=0-9, 20-29', 100)).toEqual(partial({ start: 0, end: 9 }, { start: 20, end: 29 }));
    expect(evaluateRange('bytes=20-29,0-9', 100)).toEqual(partial({ start: 0, end: 9 }, { start: 20, end: 29 }));
    expect(evaluateRange('bytes=0-9,5-14', 100)).toEqual(partial({ start: 0, end: 14 }));
    expect(evaluateRange('bytes=0-9,10-19', 100)).toEqual(partial({ start: 0, end: 19 })); // adjacent
    expect(evaluateRange('bytes=0-0,-1', 100)).toEqual(partial({ start: 0, end: 0 }, { start: 99, end: 99 }));
    expect(evaluateRange('bytes=0-9,,\t, 50-', 100)).toEqual(partial({ start: 0, end: 9 }, { start: 50, end: 99 }));
    expect(evaluateRange('bytes=0-9,500-600', 100)).toEqual(partial({ start: 0, end: 9 })); // unsatisfiable ones dropped
  });

  it('answers 416 when no range is satisfiable', () => {
    expect(evaluateRange('bytes=1000-', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(evaluateRange('bytes=1000-2000,5000-', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(evaluateRange('bytes=-0', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(evaluateRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(evaluateRange('bytes=-1', 0)).toEqual({ kind: 'unsatisfiable' });
  });

  it('ignores invalid, foreign-unit and excessive headers (the whole file is sent)', () => {
    for (const header of ['bytes=', 'bytes=,', 'bytes=5-1', 'bytes=a-b', 'bytes=1-2-3', 'bytes=--1', 'bytes=-', 'bytes 0-1', 'items=0-1', 'bytes=0x1-2', 'bytes=+1-2', 'bytes=1.5-2', '=0-1', 'bytes=0-1,x']) {
      expect(evaluateRange(header, 1000), header).toEqual({ kind: 'whole' });
    }
    expect(evaluateRange(undefined, 10)).toEqual({ kind: 'whole' });
    const many = `bytes=${Array.from({ length: 101 }, (_, i) => `${i * 2}-${i * 2}`).join(',')}`;
    expect(evaluateRange(many, 1000)).toEqual({ kind: 'whole' });
    expect(evaluateRange(many, 1000, 200).kind).toBe('partial');
  });

  it('handles numbers far past 2^53 without losing its footing', () => {
    expect(evaluateRange('bytes=0-99999999999999999999999', 10)).toEqual(partial({ start: 0, end: 9 }));
    expect(evaluateRange('bytes=99999999999999999999999-', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(evaluateRange(`bytes=-${'9'.repeat(400)}`, 10)).toEqual(partial({ start: 0, end: 9 }));
    expect(evaluateRange('bytes=0005-0006', 10)).toEqual(partial({ start: 5, end: 6 }));
  });

  it('always yields sorted, disjoint, in-bounds ranges covering exactly the requested bytes (fast-check)', () => {
    const spec = fc.oneof(
      fc.tuple(fc.nat(300), fc.option(fc.nat(300), { nil: undefined })).map(([a, b]) => (b === undefined ? `${a}-` : `${Math.min(a, b)}-${Math.max(a, b)}`)),
      fc.nat(300).map((n) => `-${n}`),
    );
    fc.assert(
      fc.property(fc.array(spec, { minLength: 1, maxLength: 10 }), fc.nat(250), (specs, size) => {
        const outcome = evaluateRange(`bytes=${specs.join(',')}`, size);
        const wanted = new Set<number>();
        for (const s of specs) {
          const [a, b] = s.split('-');
          if (a === '') {
            const n = Number(b);
            for (let i = Math.max(0, size - n); i < size && n > 0; i++) wanted.add(i);
          } else {
            const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
            for (let i = Number(a); i <= end; i++) wanted.add(i);
          }
        }
        if (wanted.size === 0) {
          expect(outcome.kind).toBe('unsatisfiable');
          return;
        }
        expect(outcome.kind).toBe('partial');
        if (outcome.kind !== 'partial') return;
        const got = new Set<number>();
        let previousEnd = -2;
        for (const r of outcome.ranges) {
          expect(r.start).toBeGreaterThan(previousEnd + 1); // sorted, not touching
          expect(r.end).toBeGreaterThanOrEqual(r.start);
          expect(r.end).toBeLessThan(size);
          for (let i = r.start; i <= r.end; i++) got.add(i);
          previousEnd = r.end;
        }
        expect([...got].sort((x, y) => x - y)).toEqual([...wanted].sort((x, y) => x - y));
      }),
      { numRuns: 2000 },
    );
  });

  it('coalesces in any input order', () => {
    expect(coalesceRanges([{ start: 5, end: 6 }, { start: 0, end: 2 }, { start: 3, end: 4 }])).toEqual([{ start: 0, end: 6 }]);
    expect(coalesceRanges([])).toEqual([]);
  });

  it('lays out multipart/byteranges with an exact length', () => {
    const body = Buffer.from('0123456789abcdefghij');
    const ranges = [{ start: 0, end: 1 }, { start: 10, end: 12 }];
    const layout = multipartLayout(ranges, body.length, 'text/plain', 'XYZ');
    expect(layout.contentType).toBe('multipart/byteranges; boundary=XYZ');
    const assembled = Buffer.concat([Buffer.from(layout.heads[0]!), body.subarray(0, 2), Buffer.from(layout.heads[1]!), body.subarray(10, 13), Buffer.from(layout.tail)]);
    expect(assembled.length).toBe(layout.length);
    expect(assembled.toString()).toBe(
      '--XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/20\r\n\r\n01\r\n--XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 10-12/20\r\n\r\nabc\r\n--XYZ--\r\n',
    );
  });
});

describe('Content-Range, read by the client', () => {
  it('reads what contentRange writes', () => {
    fc.assert(
      fc.property(fc.nat(1e12), fc.nat(1e12), fc.nat(1e6), (start, length, after) => {
        const size = start + length + after + 1;
        const range = { start, end: start + length };
        expect(parseContentRange(contentRange(range, size))).toEqual({ range, size });
      }),
    );
  });

  it('refuses what cannot continue a download', () => {
    for (const value of [undefined, '', 'bytes */1000', 'bytes 5-4/1000', 'bytes 0-1000/1000', 'items 0-9/10', 'bytes 0-9/*', 'bytes 0-9', 'bytes -1-9/10', 'bytes 0-9/10000000000000000']) {
      expect(parseContentRange(value), String(value)).toBeUndefined();
    }
    expect(parseContentRange('Bytes 100-199/200')).toEqual({ range: { start: 100, end: 199 }, size: 200 });
  });
});

describe('entity tags and dates', () => {
  it('makes strong tags from size and mtime, with a suffix per coding', () => {
    expect(fileEtag(1024, 1_700_000_000_123.456)).toBe('"400-60a2418202240"');
    expect(fileEtag(0, 0)).toBe('"0-0"');
    expect(fileEtag(1, 1000, '-gz')).toBe('"1-f4240-gz"');
    expect(fileEtag(10, 1000)).not.toBe(fileEtag(10, 1000.001)); // microsecond resolution
    expect(fileEtag(10, 1000)).not.toBe(fileEtag(11, 1000));
  });

  it('parses tag lists, skipping malformed members', () => {
    expect(parseEntityTags('*')).toBe('*');
    expect(parseEntityTags(' * ')).toBe('*');
    expect(parseEntityTags('"a", W/"b" ,"c"')).toEqual(['"a"', 'W/"b"', '"c"']);
    expect(parseEntityTags('"a",, ,"b"')).toEqual(['"a"', '"b"']);
    expect(parseEntityTags('a, "b", "c" junk, W/"d"')).toEqual(['"b"', 'W/"d"']);
    expect(parseEntityTags('""')).toEqual(['""']);
    expect(parseEntityTags('"unterminated')).toEqual([]);
    expect(parseEntityTags('')).toEqual([]);
  });

  it('compares strongly and weakly as RFC 9110 §8.8.3.2 tabulates', () => {
    expect(strongMatch('W/"1"', 'W/"1"')).toBe(false);
    expect(weakMatch('W/"1"', 'W/"1"')).toBe(true);
    expect(strongMatch('W/"1"', 'W/"2"')).toBe(false);
    expect(weakMatch('W/"1"', 'W/"2"')).toBe(false);
    expect(strongMatch('W/"1"', '"1"')).toBe(false);
    expect(weakMatch('W/"1"', '"1"')).toBe(true);
    expect(strongMatch('"1"', '"1"')).toBe(true);
    expect(weakMatch('"1"', '"1"')).toBe(true);
  });

  it('parses the three HTTP-date formats and rejects impostors', () => {
    const expected = Date.UTC(1994, 10, 6, 8, 49, 37);
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(expected);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', Date.UTC(2025, 0, 1))).toBe(expected);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(expected);
    for (const bad of ['', '1', 'Sun, 06 Nov 1994 08:49:37', 'Mon, 06 Nov 1994 08:49:37 GMT', 'Sun, 31 Feb 1994 08:49:37 GMT', 'Sun, 06 Nov 1994 25:00:00 GMT', 'sun, 06 nov 1994 08:49:37 gmt', '2024-01-01T00:00:00Z', 'Sun, 6 Nov 1994 08:49:37 GMT']) {
      expect(parseHttpDate(bad), bad).toBeUndefined();
    }
  });

  it('formats IMF-fixdate and round-trips it at one-second resolution (fast-check)', () => {
    expect(formatHttpDate(Date.UTC(1994, 10, 6, 8, 49, 37))).toBe('Sun, 06 Nov 1994 08:49:37 GMT');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253402300799 }), (secondsSinceEpoch) => {
        const ms = secondsSinceEpoch * 1000;
        expect(parseHttpDate(formatHttpDate(ms))).toBe(ms);
      }),
    );
  });
});

describe('conditional requests (RFC 9110 §13.2.2 precedence)', () => {
  const modified = Date.UTC(2024, 0, 1, 12, 0, 0, 500);
  const current = { etag: '"abc"', lastModifiedMs: modified };
  const before = formatHttpDate(modified - 60_000);
  const same = formatHttpDate(modified); // the same second (sub-second part dropped)
  const after = formatHttpDate(modified + 60_000);

  it('proceeds with no conditions', () => {
    expect(evaluatePreconditions({}, current)).toBe('proceed');
  });

  it('If-None-Match: weak comparison, * matches, a miss proceeds', () => {
    expect(evaluatePreconditions({ 'if-none-match': '"abc"' }, current)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-none-match': 'W/"abc"' }, current)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-none-match': '"x", "abc"' }, current)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-none-match': '*' }, current)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-none-match': '"x"' }, current)).toBe('proceed');
  });

  it('If-Modified-Since: second resolution, ignored when invalid or when If-None-Match is present', () => {
    expect(evaluatePreconditions({ 'if-modified-since': same }, current)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-modified-since': after }, current)).toBe('not-modified');
    expect(evaluatePreconditions({ 'if-modified-since': before }, current)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-modified-since': 'yesterday' }, current)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-none-match': '"x"', 'if-modified-since': after }, current)).toBe('proceed');
  });

  it('If-Match: strong comparison, failing with 412, and it outranks If-None-Match', () => {
    expect(evaluatePreconditions({ 'if-match': '"abc"' }, current)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-match': '*' }, current)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-match': 'W/"abc"' }, current)).toBe('precondition-failed');
    expect(evaluatePreconditions({ 'if-match': '"x"' }, current)).toBe('precondition-failed');
    expect(evaluatePreconditions({ 'if-match': '"x"', 'if-none-match': '"abc"' }, current)).toBe('precondition-failed');
    expect(evaluatePreconditions({ 'if-match': '"abc"', 'if-none-match': '"abc"' }, current)).toBe('not-modified');
  });

  it('If-Unmodified-Since: 412 when modified since; ignored when If-Match is present or the date is bad', () => {
    expect(evaluatePreconditions({ 'if-unmodified-since': before }, current)).toBe('precondition-failed');
    expect(evaluatePreconditions({ 'if-unmodified-since': same }, current)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-unmodified-since': 'garbage' }, current)).toBe('proceed');
    expect(evaluatePreconditions({ 'if-match': '"abc"', 'if-unmodified-since': before }, current)).toBe('proceed');
  });

  it('If-Range: a strong tag or the exact date of a strong Last-Modified', () => {
    const now = modified + 10_000;
    expect(ifRangeHolds(undefined, current, now)).toBe(true);
    expect(ifRangeHolds('"abc"', current, now)).toBe(true);
    expect(ifRangeHolds('W/"abc"', current, now)).toBe(false);
    expect(ifRangeHolds('"old"', current, now)).toBe(false);
    expect(ifRangeHolds(same, current, now)).toBe(true);
    expect(ifRangeHolds(after, current, now)).toBe(false); // not an exact match
    expect(ifRangeHolds(before, current, now)).toBe(false);
    expect(ifRangeHolds(same, current, modified + 200)).toBe(false); // modified less than a second ago: weak
    expect(ifRangeHolds('nonsense', current, now)).toBe(false);
  });
});

describe('Accept-Encoding negotiation', () => {
  const both = ['br', 'gzip'] as const;

  it('prefers brotli, then gzip, then identity', () => {
    expect(negotiateEncoding('gzip, deflate, br, zstd', both)).toBe('br');
    expect(negotiateEncoding('gzip, deflate', both)).toBe('gzip');
    expect(negotiateEncoding('x-gzip', both)).toBe('gzip');
    expect(negotiateEncoding('deflate', both)).toBe('identity');
    expect(negotiateEncoding(undefined, both)).toBe('identity');
    expect(negotiateEncoding('', both)).toBe('identity');
    expect(negotiateEncoding('br', ['gzip'])).toBe('identity');
    expect(negotiateEncoding('gzip', [])).toBe('identity');
  });

  it('honours q-values, * and q=0', () => {
    expect(negotiateEncoding('br;q=0.5, gzip;q=0.8', both)).toBe('gzip');
    expect(negotiateEncoding('br;q=0, gzip', both)).toBe('gzip');
    expect(negotiateEncoding('*', both)).toBe('br');
    expect(negotiateEncoding('*;q=0.5, br;q=0', both)).toBe('gzip');
    expect(negotiateEncoding('gzip;q=0.5, identity', both)).toBe('identity');
    expect(negotiateEncoding('gzip;q=0.5, identity;q=0.5', both)).toBe('gzip');
    expect(negotiateEncoding('gzip;q=0, br;q=0', both)).toBe('identity');
    expect(negotiateEncoding('GZIP;Q=1', both)).toBe('gzip');
  });

  it('skips malformed members', () => {
    expect(parseAcceptEncoding('gzip;q=2, br;q=abc, deflate;q=0.5, x y')).toEqual(new Map([['deflate', 0.5]]));
    expect(parseAcceptEncoding('gzip;level=1;q=0.1')).toEqual(new Map([['gzip', 0.1]]));
    expect(negotiateEncoding(',,;;==', both)).toBe('identity');
  });

  it('never offers what was not offered nor what was refused (fast-check)', () => {
    const member = fc.tuple(fc.constantFrom('br', 'gzip', 'identity', '*', 'deflate', 'x-gzip'), fc.constantFrom('', ';q=0', ';q=0.5', ';q=1', ';q=0.001')).map(([c, q]) => c + q);
    fc.assert(
      fc.property(fc.array(member, { maxLength: 6 }), fc.subarray(['br', 'gzip'] as const), (members, offered) => {
        const header = members.join(', ');
        const chosen = negotiateEncoding(header, offered);
        if (chosen !== 'identity') {
          expect(offered).toContain(chosen);
          expect(parseAcceptEncoding(header).get(chosen) ?? parseAcceptEncoding(header).get('*')).toBeGreaterThan(0);
        }
      }),
    );
  });
});

describe('access log lines', () => {
  it('writes the combined log format, escaping what a client controls', () => {
    const line = combinedLogLine({
      remote: '127.0.0.1',
      timeMs: Date.UTC(2000, 9, 10, 13, 55, 36),
      method: 'GET',
      target: '/a"b',
      httpVersion: '1.1',
      status: 200,
      bytes: 2326,
      referer: undefined,
      userAgent: 'evil\n"agent"\\',
    });
    expect(line).toBe('127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /a\\"b HTTP/1.1" 200 2326 "-" "evil\\x0a\\"agent\\"\\\\"');
    expect(formatLogTime(0)).toBe('01/Jan/1970:00:00:00 +0000');
    expect(combinedLogLine({ remote: '', timeMs: 0, method: 'HEAD', target: '/', httpVersion: '1.0', status: 304, bytes: 0 })).toContain('" 304 - "-" "-"');
  });
});

describe('media types', () => {
  it('knows what a page loads, with a charset for text', () => {
    expect(contentTypeFor('index.html')).toBe('text/html; charset=utf-8');
    expect(contentTypeFor('app.JS')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeFor('mod.mjs')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeFor('style.css')).toBe('text/css; charset=utf-8');
    expect(contentTypeFor('data.json')).toBe('application/json; charset=utf-8');
    expect(contentTypeFor('logo.svg')).toBe('image/svg+xml');
    expect(contentTypeFor('photo.jpeg')).toBe('image/jpeg');
    expect(contentTypeFor('a.wasm')).toBe('application/wasm');
    expect(contentTypeFor('f.woff2')).toBe('font/woff2');
    expect(contentTypeFor('movie.mp4')).toBe('video/mp4');
    expect(contentTypeFor('README')).toBe('application/octet-stream');
    expect(contentTypeFor('.bashrc')).toBe('application/octet-stream');
    expect(contentTypeFor('x.constructor')).toBe('application/octet-stream');
    expect(contentTypeFor('x.__proto__')).toBe('application/octet-stream');
    expect(extensionOf('a.TAR.GZ')).toBe('gz');
  });

  it('compresses text, not what is compressed already', () => {
    expect(isCompressible('text/html; charset=utf-8')).toBe(true);
    expect(isCompressible('application/json; charset=utf-8')).toBe(true);
    expect(isCompressible('image/svg+xml')).toBe(true);
    expect(isCompressible('application/wasm')).toBe(true);
    expect(isCompressible('image/png')).toBe(false);
    expect(isCompressible('application/gzip')).toBe(false);
    expect(isCompressible('font/woff2')).toBe(false);
  });
});

describe('pages', () => {
  it('escapes everything that came from outside', () => {
    expect(escapeHtml(`<script>"'&`)).toBe('&#60;script&#62;&#34;&#39;&#38;');
    const page = notFoundPage({ path: '/<img src=x onerror=alert(1)>', suggestions: ['/a%22b.html'] });
    expect(page).not.toContain('<img');
    expect(page).toContain('&#60;img');
    expect(page).toContain('href="/a%22b.html"');
    const listing = listingPage('/d/', '/d/', [{ name: '"><script>', directory: false, size: 1, mtimeMs: 0 }]);
    expect(listing).not.toContain('<script>');
    expect(listing).toContain('href="/d/%22%3E%3Cscript%3E"');
  });

  it('lists folders first, sizes for people', () => {
    const sorted = sortListing([
      { name: 'b.txt', directory: false, size: 1, mtimeMs: 0 },
      { name: 'z', directory: true, size: 0, mtimeMs: 0 },
      { name: 'a.txt', directory: false, size: 1, mtimeMs: 0 },
    ]);
    expect(sorted.map((e) => e.name)).toEqual(['z', 'a.txt', 'b.txt']);
    expect(formatSize(0)).toBe('0 B');
    expect(formatSize(1536)).toBe('1.5 KiB');
    expect(formatSize(100 * 1024 * 1024)).toBe('100 MiB');
  });

  it('measures edit distance with a cut-off', () => {
    expect(editDistance('index.html', 'index.html', 2)).toBe(0);
    expect(editDistance('index.htm', 'index.html', 2)).toBe(1);
    expect(editDistance('inedx.html', 'index.html', 2)).toBe(2);
    expect(editDistance('abc', 'xyz', 2)).toBe(3);
    expect(editDistance('a', 'abcdef', 2)).toBe(3);
  });
});

describe('request heads', () => {
  it('wants exactly one Host in HTTP/1.1, at most one in HTTP/1.0', () => {
    expect(requestHeadProblem('1.1', ['Host', 'a'])).toBeUndefined();
    expect(requestHeadProblem('1.1', ['Host', 'a', 'host', 'b'])).toMatch(/more than one Host/);
    expect(requestHeadProblem('1.1', ['Accept', '*/*'])).toBe('an HTTP/1.1 request needs a Host header');
    expect(requestHeadProblem('1.0', [])).toBeUndefined();
    expect(requestHeadProblem('1.0', ['HOST', 'a', 'Host', 'a'])).toMatch(/more than one Host/);
  });

  it('refuses a transfer coding list that does not end with chunked', () => {
    expect(requestHeadProblem('1.1', ['Host', 'a', 'Transfer-Encoding', 'chunked'])).toBeUndefined();
    expect(requestHeadProblem('1.1', ['Host', 'a', 'Transfer-Encoding', 'gzip, Chunked '])).toBeUndefined();
    expect(requestHeadProblem('1.1', ['Host', 'a', 'Transfer-Encoding', 'xchunked'])).toMatch(/chunked/);
    expect(requestHeadProblem('1.1', ['Host', 'a', 'Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'gzip'])).toMatch(/chunked/);
  });

  it('knows when the client closes after its request', () => {
    expect(closesAfterRequest('1.1', undefined)).toBe(false);
    expect(closesAfterRequest('1.1', 'Close')).toBe(true);
    expect(closesAfterRequest('1.1', 'keep-alive, close')).toBe(true);
    expect(closesAfterRequest('1.0', undefined)).toBe(true);
    expect(closesAfterRequest('1.0', 'Keep-Alive')).toBe(false);
  });
});

describe('the access-log message', () => {
  it('is the whole line, with the request quoted so a target cannot forge another line', () => {
    expect(accessLogMessage({ remote: '127.0.0.1', method: 'GET', target: '/index.html', httpVersion: '1.1', status: 200, bytes: 1234, ms: 3 })).toBe(
      '127.0.0.1 "GET /index.html HTTP/1.1" 200 1234 B 3 ms',
    );
    expect(accessLogMessage({ remote: '::1', method: 'GET', target: '/a"\n\x1b[31m', httpVersion: '2.0', status: 400, bytes: 0, ms: 0 })).toBe(
      '::1 "GET /a\\"\\x0a\\x1b[31m HTTP/2.0" 400 0 B 0 ms',
    );
  });
});
