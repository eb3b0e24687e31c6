import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  NetasciiDecoder,
  NetasciiEncoder,
  ReceiveWindow,
  SendWindow,
  TftpPacketError,
  acceptOack,
  backoffDelay,
  clientOptions,
  formatAck,
  formatData,
  formatError,
  formatOack,
  formatPacket,
  formatRequest,
  negotiateOptions,
  netasciiEncodedLength,
  parseOptionNumber,
  parsePacket,
  transferModeOf,
  wireBlock,
  type TftpOption,
  type TftpPacket,
} from '../../../src/services/tftp/protocol.js';

const bytes = (...values: number[]) => Buffer.from(values);
const ascii = (text: string) => [...Buffer.from(text, 'latin1')];

describe('TFTP packets, byte by byte', () => {
  it('formats an RRQ with options as RFC 1350 and RFC 2347 lay it out', () => {
    expect(formatRequest('RRQ', 'pxelinux.0', 'octet', [{ name: 'blksize', value: '1468' }, { name: 'tsize', value: '0' }])).toEqual(
      bytes(0, 1, ...ascii('pxelinux.0'), 0, ...ascii('octet'), 0, ...ascii('blksize'), 0, ...ascii('1468'), 0, ...ascii('tsize'), 0, ...ascii('0'), 0),
    );
    expect(formatRequest('WRQ', 'a', 'netascii')).toEqual(bytes(0, 2, 0x61, 0, ...ascii('netascii'), 0));
  });

  it('formats DATA, ACK, ERROR and OACK', () => {
    expect(formatData(1, bytes(0xde, 0xad))).toEqual(bytes(0, 3, 0, 1, 0xde, 0xad));
    expect(formatData(65535, bytes())).toEqual(bytes(0, 3, 0xff, 0xff));
    expect(formatAck(0)).toEqual(bytes(0, 4, 0, 0));
    expect(formatAck(258)).toEqual(bytes(0, 4, 1, 2));
    expect(formatError(1, 'File not found')).toEqual(bytes(0, 5, 0, 1, ...ascii('File not found'), 0));
    expect(formatError(0, '')).toEqual(bytes(0, 5, 0, 0, 0));
    expect(formatOack([{ name: 'blksize', value: '512' }])).toEqual(bytes(0, 6, ...ascii('blksize'), 0, ...ascii('512'), 0));
    expect(formatOack([])).toEqual(bytes(0, 6));
  });

  it('parses what it formats', () => {
    expect(parsePacket(bytes(0, 1, ...ascii('boot/x'), 0, ...ascii('OCTET'), 0, ...ascii('BlkSize'), 0, ...ascii('8'), 0))).toEqual({
      type: 'RRQ',
      filename: 'boot/x',
      mode: 'octet',
      options: [{ name: 'BlkSize', value: '8' }],
    });
    const data = parsePacket(bytes(0, 3, 0x12, 0x34, 9, 8, 7));
    expect(data).toEqual({ type: 'DATA', block: 0x1234, data: bytes(9, 8, 7) });
    expect(parsePacket(bytes(0, 4, 0xff, 0xfe))).toEqual({ type: 'ACK', block: 0xfffe });
    expect(parsePacket(bytes(0, 5, 0, 2, ...ascii('nope'), 0))).toEqual({ type: 'ERROR', code: 2, message: 'nope' });
    expect(parsePacket(bytes(0, 6, ...ascii('tsize'), 0, ...ascii('99'), 0))).toEqual({ type: 'OACK', options: [{ name: 'tsize', value: '99' }] });
  });

  it('forgives a missing NUL after an ERROR message and padding after an ACK', () => {
    expect(parsePacket(bytes(0, 5, 0, 1, ...ascii('gone')))).toEqual({ type: 'ERROR', code: 1, message: 'gone' });
    expect(parsePacket(bytes(0, 4, 0, 7, 0, 0))).toEqual({ type: 'ACK', block: 7 });
  });

  it('refuses truncated and garbage packets with typed errors', () => {
    const cases: Array<[Buffer, string]> = [
      [bytes(), 'truncated'],
      [bytes(0), 'truncated'],
      [bytes(0, 3, 0), 'truncated'],
      [bytes(0, 4, 1), 'truncated'],
      [bytes(0, 5, 0), 'truncated'],
      [bytes(0, 1, ...ascii('file')), 'truncated'],
      [bytes(0, 1, ...ascii('file'), 0, ...ascii('octet')), 'truncated'],
      [bytes(0, 1, ...ascii('file'), 0, ...ascii('octet'), 0, ...ascii('blksize'), 0), 'truncated'],
      [bytes(0, 1, ...ascii('file'), 0, ...ascii('octet'), 0, ...ascii('blksize'), 0, ...ascii('512')), 'truncated'],
      [bytes(0, 1, 0, ...ascii('octet'), 0), 'format'],
      [bytes(0, 1, ...ascii('f'), 0, 0), 'format'],
      [bytes(0, 1, 0xc0, 0xae, 0xc0, 0xae, 0x2f, 0x78, 0, ...ascii('octet'), 0), 'format'], // overlong "../x"
      [bytes(0, 7), 'opcode'],
      [bytes(0, 0, 1, 2), 'opcode'],
      [bytes(0xff, 0xff, 0, 0), 'opcode'],
    ];
    for (const [packet, reason] of cases) {
      let caught: unknown;
      try {
        parsePacket(packet);
      } catch (error) {
        caught = error;
      }
      expect(caught, packet.toString('hex')).toBeInstanceOf(TftpPacketError);
      expect((caught as TftpPacketError).reason, packet.toString('hex')).toBe(reason);
    }
  });

  it('never throws anything but TftpPacketError, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 0, max: 7 }), (tail, opcode) => {
        const datagram = Buffer.concat([bytes(0, opcode), Buffer.from(tail)]);
        for (const candidate of [datagram, Buffer.from(tail)]) {
          try {
            parsePacket(candidate);
          } catch (error) {
            if (!(error instanceof TftpPacketError)) throw error;
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  const text = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\0') && Buffer.from(s, 'utf8').toString('utf8') === s);
  const option: fc.Arbitrary<TftpOption> = fc.record({ name: text, value: fc.string({ maxLength: 12 }).filter((s) => !s.includes('\0') && Buffer.from(s, 'utf8').toString('utf8') === s) });
  const packet: fc.Arbitrary<TftpPacket> = fc.oneof(
    fc.record({ type: fc.constantFrom('RRQ' as const, 'WRQ' as const), filename: text, mode: fc.constantFrom('octet', 'netascii', 'mail'), options: fc.array(option, { maxLength: 5 }) }),
    fc.record({ type: fc.constant('DATA' as const), block: fc.integer({ min: 0, max: 65535 }), data: fc.uint8Array({ maxLength: 1024 }).map((a) => Buffer.from(a)) }),
    fc.record({ type: fc.constant('ACK' as const), block: fc.integer({ min: 0, max: 65535 }) }),
    fc.record({ type: fc.constant('ERROR' as const), code: fc.integer({ min: 0, max: 65535 }), message: fc.string({ maxLength: 40 }).filter((s) => !s.includes('\0') && Buffer.from(s, 'utf8').toString('utf8') === s) }),
    fc.record({ type: fc.constant('OACK' as const), options: fc.array(option, { maxLength: 5 }) }),
  );

  it('round-trips every packet: parse(format(p)) = p and format(parse(b)) = b', () => {
    fc.assert(
      fc.property(packet, (p) => {
        const wire = formatPacket(p);
        const back = parsePacket(wire);
        expect(back).toEqual(p);
        expect(formatPacket(back)).toEqual(wire);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses to format what cannot be sent', () => {
    expect(() => formatRequest('RRQ', '', 'octet')).toThrow(TftpPacketError);
    expect(() => formatRequest('RRQ', 'a\0b', 'octet')).toThrow(TftpPacketError);
    expect(() => formatAck(65536)).toThrow(TftpPacketError);
    expect(() => formatData(-1, bytes())).toThrow(TftpPacketError);
    expect(() => formatError(70000, 'x')).toThrow(TftpPacketError);
  });

  it('knows the transfer modes and their old aliases', () => {
    expect(transferModeOf('OCTET')).toBe('octet');
    expect(transferModeOf('binary')).toBe('octet');
    expect(transferModeOf('NetASCII')).toBe('netascii');
    expect(transferModeOf('mail')).toBeUndefined();
    expect(transferModeOf('')).toBeUndefined();
  });
});

describe('option negotiation', () => {
  const limits = { maxBlockSize: 65464, maxWindowSize: 64, maxUploadBytes: 1_000_000 };
  const opts = (pairs: Record<string, string>) => Object.entries(pairs).map(([name, value]) => ({ name, value }));

  it('reads option numbers strictly', () => {
    expect(parseOptionNumber('512')).toBe(512);
    expect(parseOptionNumber('0008')).toBe(8);
    for (const bad of ['', ' 8', '8 ', '-1', '+8', '1e3', '0x10', '8.0', 'abc']) expect(parseOptionNumber(bad), bad).toBeUndefined();
    expect(parseOptionNumber('99999999999999999999999')).toBe(Number.POSITIVE_INFINITY);
  });

  it('grants blksize, windowsize, timeout and tsize, answering names in lower case', () => {
    const result = negotiateOptions('RRQ', opts({ BLKSIZE: '1468', windowsize: '16', timeout: '3', tsize: '0' }), limits, 12345);
    expect(result).toEqual({
      ok: true,
      parameters: { blockSize: 1468, windowSize: 16, timeoutSeconds: 3, transferSize: 12345 },
      oack: opts({ blksize: '1468', windowsize: '16', timeout: '3', tsize: '12345' }),
    });
  });

  it('ignores unknown options and answers nothing when nothing is known', () => {
    const result = negotiateOptions('RRQ', opts({ multicast: '', rollover: '0', 'x-custom': '1' }), limits, 10);
    expect(result).toEqual({ ok: true, parameters: { blockSize: 512, windowSize: 1, timeoutSeconds: undefined, transferSize: undefined }, oack: [] });
  });

  it('lowers values above the limits and ignores unusable ones (absurd values)', () => {
    const high = negotiateOptions('RRQ', opts({ blksize: '99999999999999999999', windowsize: '100000' }), limits);
    expect(high.ok && high.oack).toEqual(opts({ blksize: '65464', windowsize: '64' }));
    const small = negotiateOptions('RRQ', opts({ blksize: '1468' }), { ...limits, maxBlockSize: 1024 });
    expect(small.ok && small.parameters.blockSize).toBe(1024);
    for (const [name, value] of [['blksize', '7'], ['blksize', '0'], ['blksize', '-512'], ['blksize', 'big'], ['windowsize', '0'], ['timeout', '0'], ['timeout', '256'], ['timeout', '1.5'], ['tsize', '-1'], ['tsize', '']] as const) {
      const result = negotiateOptions('RRQ', [{ name, value }], limits, 100);
      expect(result.ok && result.oack, `${name}=${value}`).toEqual([]);
      expect(result.ok && result.parameters.blockSize).toBe(512);
      expect(result.ok && result.parameters.windowSize).toBe(1);
    }
  });

  it('takes the first of duplicated options', () => {
    const result = negotiateOptions('RRQ', opts({ blksize: '1024' }).concat(opts({ BlkSize: '2048' })), limits);
    expect(result.ok && result.oack).toEqual(opts({ blksize: '1024' }));
  });

  it('leaves tsize out of an RRQ answer when the size is unknown (netascii)', () => {
    const result = negotiateOptions('RRQ', opts({ tsize: '0' }), limits, undefined);
    expect(result.ok && result.oack).toEqual([]);
  });

  it('echoes a WRQ tsize and refuses one over the upload limit with error 3', () => {
    expect(negotiateOptions('WRQ', opts({ tsize: '1000' }), limits)).toMatchObject({ ok: true, oack: opts({ tsize: '1000' }) });
    expect(negotiateOptions('WRQ', opts({ tsize: '1000001' }), limits)).toMatchObject({ ok: false, code: 3 });
  });

  it('lets the client check an OACK against its request', () => {
    const request = { blockSize: 1468, windowSize: 16, transferSize: 0 };
    expect(clientOptions(request)).toEqual(opts({ blksize: '1468', tsize: '0', windowsize: '16' }));
    expect(acceptOack(request, opts({ blksize: '1024', windowsize: '8', tsize: '77' }))).toMatchObject({ ok: true, parameters: { blockSize: 1024, windowSize: 8, transferSize: 77 } });
    expect(acceptOack(request, [])).toMatchObject({ ok: true, parameters: { blockSize: 512, windowSize: 1 } });
    expect(acceptOack(request, opts({ blksize: '2000' }))).toMatchObject({ ok: false, code: 8 });
    expect(acceptOack(request, opts({ blksize: '4' }))).toMatchObject({ ok: false, code: 8 });
    expect(acceptOack(request, opts({ windowsize: '17' }))).toMatchObject({ ok: false, code: 8 });
    expect(acceptOack(request, opts({ timeout: '5' }))).toMatchObject({ ok: false, code: 8 });
    expect(acceptOack(request, opts({ multicast: '1' }))).toMatchObject({ ok: false, code: 8 });
    expect(acceptOack({}, opts({ blksize: '512' }))).toMatchObject({ ok: false, code: 8 });
  });
});

describe('netascii', () => {
  const encode = (s: string) => new NetasciiEncoder().push(Buffer.from(s, 'latin1')).toString('latin1');
  const decodeAll = (chunks: Buffer[]) => {
    const decoder = new NetasciiDecoder();
    return Buffer.concat([...chunks.map((c) => decoder.push(c)), decoder.end()]);
  };

  it('encodes LF as CR LF and CR as CR NUL', () => {
    expect(encode('a\nb')).toBe('a\r\nb');
    expect(encode('a\rb')).toBe('a\r\0b');
    expect(encode('a\r\nb')).toBe('a\r\0\r\nb');
    expect(encode('')).toBe('');
    expect(netasciiEncodedLength(Buffer.from('a\r\n\n'))).toBe(7);
  });

  it('decodes CR LF and CR NUL, keeping a CR split across blocks', () => {
    expect(decodeAll([Buffer.from('x\r'), Buffer.from('\ny')]).toString('latin1')).toBe('x\ny');
    expect(decodeAll([Buffer.from('x\r'), Buffer.from('\0y')]).toString('latin1')).toBe('x\ry');
    expect(decodeAll([Buffer.from('x\r'), Buffer.from(''), Buffer.from('\n')]).toString('latin1')).toBe('x\n');
    expect(decodeAll([Buffer.from('end\r')]).toString('latin1')).toBe('end\r');
    // A sloppy peer's bare CR keeps the byte after it.
    expect(decodeAll([Buffer.from('a\rb\r\r\n')]).toString('latin1')).toBe('a\rb\r\n');
  });

  it('decode(encode(x)) = x, however the wire bytes are cut into blocks', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 8 }), (input, cuts) => {
        const wire = new NetasciiEncoder().push(input);
        expect(wire.length).toBe(netasciiEncodedLength(input));
        const points = [...new Set(cuts.map((c) => Math.min(c, wire.length)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let from = 0;
        for (const point of [...points, wire.length]) {
          chunks.push(wire.subarray(from, point));
          from = point;
        }
        expect(decodeAll(chunks)).toEqual(Buffer.from(input));
      }),
      { numRuns: 500 },
    );
  });

  it('encoding chunk by chunk equals encoding the whole', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 10 }), (chunks) => {
        const encoder = new NetasciiEncoder();
        const piecewise = Buffer.concat(chunks.map((c) => encoder.push(c)));
        expect(piecewise).toEqual(new NetasciiEncoder().push(Buffer.concat(chunks)));
      }),
    );
  });
});

describe('the sending window', () => {
  it('sends lockstep, and a duplicate ACK never causes a resend (Sorcerer\'s Apprentice)', () => {
    const w = new SendWindow(1, 3, 100, 800);
    w.last = 3;
    expect(w.start()).toEqual({ from: 1, to: 1 });
    w.markSent(1);
    expect(w.onAck(1)).toEqual({ kind: 'send', from: 2, to: 2 });
    w.markSent(2);
    expect(w.onAck(1)).toEqual({ kind: 'duplicate' });
    expect(w.onAck(1)).toEqual({ kind: 'duplicate' });
    expect(w.onAck(2)).toEqual({ kind: 'send', from: 3, to: 3 });
    w.markSent(3);
    expect(w.onAck(5)).toEqual({ kind: 'stale' });
    expect(w.onAck(3)).toEqual({ kind: 'complete' });
  });

  it('waits for ACK 0 of an OACK before block 1', () => {
    const w = new SendWindow(4, 3, 100, 800, true);
    w.last = 10;
    expect(w.start()).toEqual({ from: 0, to: 0 });
    w.markSent(0);
    expect(w.onAck(1)).toEqual({ kind: 'stale' });
    expect(w.onTimeout()).toEqual({ kind: 'resend', from: 0, to: 0, delayMs: 200 });
    expect(w.onAck(0)).toEqual({ kind: 'send', from: 1, to: 4 });
  });

  it('slides a window, resends after a partial ACK, and resends the window on timeout', () => {
    const w = new SendWindow(4, 2, 100, 250);
    w.last = 9;
    expect(w.start()).toEqual({ from: 1, to: 4 });
    w.markSent(4);
    expect(w.onAck(2)).toEqual({ kind: 'send', from: 3, to: 6 });
    w.markSent(6);
    expect(w.onTimeout()).toEqual({ kind: 'resend', from: 3, to: 6, delayMs: 200 });
    expect(w.onTimeout()).toEqual({ kind: 'resend', from: 3, to: 6, delayMs: 250 });
    expect(w.onTimeout()).toEqual({ kind: 'give-up' });
  });

  it('caps the window at the last block and resets the tries on progress', () => {
    const w = new SendWindow(8, 1, 100, 800);
    w.last = 3;
    expect(w.start()).toEqual({ from: 1, to: 3 });
    w.markSent(3);
    expect(w.onTimeout().kind).toBe('resend');
    expect(w.onAck(2)).toEqual({ kind: 'send', from: 3, to: 3 });
    expect(w.tries).toBe(0);
    expect(w.onTimeout().kind).toBe('resend');
  });

  it('maps 16-bit ACKs past block 65535 (rollover to 0)', () => {
    const w = new SendWindow(4, 3, 100, 800);
    w.last = 70_000;
    w.acked = 65_534;
    w.markSent(65_538);
    expect(w.onAck(wireBlock(65_536))).toEqual({ kind: 'send', from: 65_537, to: 65_540 });
    expect(wireBlock(65_536)).toBe(0);
    expect(w.onAck(0)).toEqual({ kind: 'duplicate' });
    expect(w.onAck(wireBlock(65_538))).toEqual({ kind: 'send', from: 65_539, to: 65_542 });
  });

  it('backs off by doubling, within the cap', () => {
    expect([0, 1, 2, 3, 4].map((t) => backoffDelay(1000, t, 8000))).toEqual([1000, 2000, 4000, 8000, 8000]);
  });
});

describe('the receiving window', () => {
  it('acknowledges every block in lockstep and the short last block', () => {
    const r = new ReceiveWindow(512, 1, 3, 100, 800);
    expect(r.onData(1, 512)).toEqual({ kind: 'accept', absolute: 1, ack: 1, last: false });
    expect(r.onData(2, 100)).toEqual({ kind: 'accept', absolute: 2, ack: 2, last: true });
    expect(r.done).toBe(true);
    expect(r.onData(2, 100)).toEqual({ kind: 'discard', ack: 2 });
  });

  it('re-acknowledges every duplicate in lockstep', () => {
    const r = new ReceiveWindow(512, 1, 3, 100, 800);
    r.onData(1, 512);
    expect(r.onData(1, 512)).toEqual({ kind: 'discard', ack: 1 });
    expect(r.onData(1, 512)).toEqual({ kind: 'discard', ack: 1 });
  });

  it('acknowledges once per window, once on a gap, once per run of duplicates', () => {
    const r = new ReceiveWindow(512, 4, 3, 100, 800);
    expect([1, 2, 3].map((b) => r.onData(b, 512))).toEqual([1, 2, 3].map((b) => ({ kind: 'accept', absolute: b, ack: undefined, last: false })));
    expect(r.onData(4, 512)).toEqual({ kind: 'accept', absolute: 4, ack: 4, last: false });
    expect(r.onData(5, 512)).toMatchObject({ kind: 'accept', ack: undefined });
    expect(r.onData(7, 512)).toEqual({ kind: 'discard', ack: 5 });
    expect(r.onData(8, 512)).toEqual({ kind: 'discard', ack: undefined });
    // The sender starts again at 6: the window counts from the gap's ACK.
    expect(r.onData(6, 512)).toMatchObject({ kind: 'accept', ack: undefined });
    expect(r.onData(7, 512)).toMatchObject({ kind: 'accept', ack: undefined });
    expect(r.onData(8, 512)).toMatchObject({ kind: 'accept', ack: undefined });
    expect(r.onData(9, 512)).toMatchObject({ kind: 'accept', ack: 9 });
    expect(r.onData(6, 512)).toEqual({ kind: 'discard', ack: 9 });
    expect(r.onData(7, 512)).toEqual({ kind: 'discard', ack: undefined });
  });

  it('refuses blocks larger than blksize', () => {
    expect(new ReceiveWindow(512, 1, 3, 100, 800).onData(1, 513).kind).toBe('illegal');
  });

  it('re-acknowledges on timeout, then gives up', () => {
    const r = new ReceiveWindow(512, 1, 2, 100, 800);
    r.onData(1, 512);
    expect(r.onTimeout()).toEqual({ kind: 'reack', ack: 1, delayMs: 200 });
    expect(r.onTimeout()).toEqual({ kind: 'reack', ack: 1, delayMs: 400 });
    expect(r.onTimeout()).toEqual({ kind: 'give-up' });
  });

  it('follows block numbers through the rollover', () => {
    const r = new ReceiveWindow(8, 1, 3, 100, 800);
    r.expected = 65_535;
    expect(r.onData(65_535, 8)).toMatchObject({ kind: 'accept', absolute: 65_535 });
    expect(r.onData(0, 8)).toMatchObject({ kind: 'accept', absolute: 65_536, ack: 65_536 });
    expect(r.onData(1, 3)).toMatchObject({ kind: 'accept', absolute: 65_537, last: true });
  });
});
