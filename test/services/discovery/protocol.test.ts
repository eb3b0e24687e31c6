import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_ADVERTISED_SERVICES,
  MAX_PROBE_BYTES,
  advertisedAddresses,
  formatJsonAnnouncement,
  formatProbe,
  formatTextAnnouncement,
  parseAnnouncement,
  parseProbe,
  serviceUrl,
  type Announcement,
} from '../../../src/services/discovery/protocol.js';

const bytes = (text: string) => Buffer.from(text, 'latin1');

const announcement: Announcement = {
  wharf: 1,
  version: '0.1.0',
  name: 'box',
  nonce: 'abc_123-XYZ',
  services: [
    { service: 'echo', transport: 'tcp', address: '*', port: 7007 },
    { service: 'ftp', transport: 'tcp', address: '192.0.2.7', port: 2121 },
  ],
};

describe('discovery probes', () => {
  it("answers the seed's Hi (and other short text) in text, and wharf's probe in JSON", () => {
    expect(parseProbe(bytes('Hi'))).toEqual({ kind: 'text' });
    expect(parseProbe(bytes('hello?\n'))).toEqual({ kind: 'text' });
    expect(formatProbe('n0nce')).toEqual(bytes('WHARF-DISCOVER 1 n0nce\n'));
    expect(parseProbe(formatProbe('n0nce'))).toEqual({ kind: 'wharf', nonce: 'n0nce' });
    expect(parseProbe(bytes('WHARF-DISCOVER 1 n0nce'))).toEqual({ kind: 'wharf', nonce: 'n0nce' });
    expect(parseProbe(bytes('WHARF-DISCOVER 1 n0nce\r\n'))).toEqual({ kind: 'wharf', nonce: 'n0nce' });
  });

  it('ignores empty, oversized, malformed and answer-like datagrams', () => {
    expect(parseProbe(Buffer.alloc(0))).toBeUndefined();
    expect(parseProbe(Buffer.alloc(MAX_PROBE_BYTES, 0x41))).toEqual({ kind: 'text' });
    expect(parseProbe(Buffer.alloc(MAX_PROBE_BYTES + 1, 0x41))).toBeUndefined();
    for (const bad of ['WHARF-DISCOVER', 'WHARF-DISCOVER 1', 'WHARF-DISCOVER 2 abc', 'WHARF-DISCOVER 1 a b', 'WHARF-DISCOVER 1 ' + 'x'.repeat(65), 'WHARF-DISCOVER 1 ab/c', 'WHARF-DISCOVERY 1 abc']) {
      expect(parseProbe(bytes(bad)), bad).toBeUndefined();
    }
    // Our own answers, or look-alikes: never answered, so two servers cannot talk forever.
    expect(parseProbe(formatJsonAnnouncement(announcement))).toBeUndefined();
    expect(parseProbe(formatTextAnnouncement(announcement))).toBeUndefined();
  });

  it('refuses to format a nonce the parser would refuse', () => {
    for (const bad of ['', 'a b', 'x'.repeat(65), 'é']) expect(() => formatProbe(bad), bad).toThrow(RangeError);
  });

  it('parses any datagram without throwing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), (data) => {
        const probe = parseProbe(data);
        expect(probe === undefined || probe.kind === 'text' || probe.kind === 'wharf').toBe(true);
        parseAnnouncement(data);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('announcements', () => {
  it('round-trips JSON byte for byte', () => {
    const wire = formatJsonAnnouncement(announcement);
    expect(wire.toString()).toBe(
      '{"wharf":1,"version":"0.1.0","name":"box","nonce":"abc_123-XYZ","services":[{"service":"echo","transport":"tcp","address":"*","port":7007},{"service":"ftp","transport":"tcp","address":"192.0.2.7","port":2121}]}',
    );
    expect(parseAnnouncement(wire)).toEqual(announcement);
  });

  it('says it in one line for a person (the seed prints what it gets)', () => {
    expect(formatTextAnnouncement(announcement).toString()).toBe('wharf 0.1.0 on box: echo tcp 7007, ftp tcp 192.0.2.7:2121\n');
    expect(formatTextAnnouncement({ ...announcement, services: [] }).toString()).toBe('wharf 0.1.0 on box: no services\n');
  });

  it('rejects truncated, foreign and out-of-range announcements', () => {
    const wire = formatJsonAnnouncement(announcement);
    expect(parseAnnouncement(wire.subarray(0, wire.length - 1))).toBeUndefined();
    expect(parseAnnouncement(Buffer.from('[]'))).toBeUndefined();
    expect(parseAnnouncement(Buffer.from('{}'))).toBeUndefined();
    expect(parseAnnouncement(Buffer.from(' {"wharf":1}'))).toBeUndefined();
    const variant = (change: Record<string, unknown>) => Buffer.from(JSON.stringify({ ...announcement, ...change }));
    expect(parseAnnouncement(variant({ wharf: 2 }))).toBeUndefined();
    expect(parseAnnouncement(variant({ nonce: 'bad nonce' }))).toBeUndefined();
    expect(parseAnnouncement(variant({ services: [{ service: 'x', transport: 'sctp', address: '*', port: 1 }] }))).toBeUndefined();
    expect(parseAnnouncement(variant({ services: [{ service: 'x', transport: 'tcp', address: '*', port: 70_000 }] }))).toBeUndefined();
    const many = Array.from({ length: MAX_ADVERTISED_SERVICES + 1 }, (_, i) => ({ service: `s${i}`, transport: 'udp', address: '*', port: 1000 + i }));
    expect(parseAnnouncement(variant({ services: many }))).toBeUndefined();
  });
});

describe('what is advertised to whom', () => {
  const services = [
    { name: 'echo', addresses: [{ transport: 'tcp', address: '127.0.0.1', port: 7007 }] },
    { name: 'ftp', addresses: [{ transport: 'tcp', address: '0.0.0.0', port: 2121 }] },
    { name: 'web', addresses: [{ transport: 'tcp', address: '::', port: 8000 }, { transport: 'tcp', address: '192.0.2.7', port: 8080 }] },
    { name: 'admin', addresses: [{ transport: 'unix', address: '/run/wharf.sock', port: 0 }] },
    { name: 'v6local', addresses: [{ transport: 'udp', address: '::1', port: 6969 }] },
  ];

  it('tells a LAN asker only what it can reach, wildcards as the answering address', () => {
    expect(advertisedAddresses(services, '192.0.2.50')).toEqual([
      { service: 'ftp', transport: 'tcp', address: '*', port: 2121 },
      { service: 'web', transport: 'tcp', address: '*', port: 8000 },
      { service: 'web', transport: 'tcp', address: '192.0.2.7', port: 8080 },
    ]);
  });

  it('tells an asker on loopback about loopback listeners too', () => {
    expect(advertisedAddresses(services, '127.0.0.1').map((a) => a.service)).toEqual(['echo', 'ftp', 'web', 'web', 'v6local']);
    expect(advertisedAddresses(services, '::ffff:127.0.0.1').map((a) => a.service)).toContain('echo');
  });

  it('caps the list', () => {
    const lots = [{ name: 'many', addresses: Array.from({ length: 100 }, (_, i) => ({ transport: 'udp', address: '0.0.0.0', port: 2000 + i })) }];
    expect(advertisedAddresses(lots, '127.0.0.1')).toHaveLength(MAX_ADVERTISED_SERVICES);
  });

  it('resolves * to the address that answered', () => {
    expect(serviceUrl({ service: 'ftp', transport: 'tcp', address: '*', port: 2121 }, '192.0.2.9')).toBe('tcp://192.0.2.9:2121');
    expect(serviceUrl({ service: 'web', transport: 'tcp', address: '*', port: 80 }, 'fe80::1')).toBe('tcp://[fe80::1]:80');
    expect(serviceUrl({ service: 'web', transport: 'tcp', address: '192.0.2.7', port: 80 }, '192.0.2.9')).toBe('tcp://192.0.2.7:80');
  });
});
