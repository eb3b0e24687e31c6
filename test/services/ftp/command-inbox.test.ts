import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CommandInbox, type InboxEvent } from '../../../src/services/ftp/protocol/command-inbox.js';
import { stripTelnet } from '../../../src/services/ftp/protocol/commands.js';

function drain(inbox: CommandInbox): InboxEvent[] {
  const out: InboxEvent[] = [];
  for (let event = inbox.next(); event; event = inbox.next()) out.push(event);
  return out;
}

const show = (events: InboxEvent[]) => events.map((e) => (e.kind === 'command' ? `${e.command.verb} ${e.command.argument}`.trim() : `<${e.code}>`));

describe('CommandInbox', () => {
  it('cuts lines only as they are asked for: pipelined commands are held as bytes', () => {
    const inbox = new CommandInbox(4096);
    const input = Buffer.from('NOOP\r\n'.repeat(10_000));
    inbox.push(input);
    expect(inbox.next()).toMatchObject({ kind: 'command', command: { verb: 'NOOP' } });
    expect(inbox.bufferedBytes).toBe(input.length - 6);
    expect(drain(inbox)).toHaveLength(9_999);
    expect(inbox.bufferedBytes).toBe(0);
  });

  it('cuts CR LF and bare LF lines into commands, across any chunking', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }), (cuts) => {
        const input = Buffer.from('USER alice\r\nPASS s3cret\nNOOP\r\n');
        const inbox = new CommandInbox(64);
        const events: InboxEvent[] = [];
        let at = 0;
        for (const cut of cuts) {
          inbox.push(input.subarray(at, at + cut));
          at += cut;
          events.push(...drain(inbox));
        }
        inbox.push(input.subarray(at));
        events.push(...drain(inbox));
        expect(show(events)).toEqual(['USER alice', 'PASS s3cret', 'NOOP']);
      }),
    );
  });

  it('reports a line over the limit once with a 500, skips it without holding it, and goes on', () => {
    const inbox = new CommandInbox(4096);
    inbox.push(Buffer.from(`STOR ${'x'.repeat(5000)}`));
    expect(drain(inbox)).toEqual([]);
    inbox.push(Buffer.from('y'.repeat(100_000)));
    expect(drain(inbox)).toEqual([]);
    expect(inbox.bufferedBytes).toBeLessThan(5000);
    inbox.push(Buffer.from('zzz\r\nNOOP\r\n'));
    const events = drain(inbox);
    expect(show(events)).toEqual(['<500>', 'NOOP']);
    expect(events[0]).toMatchObject({ message: 'Command line too long (the limit is 4096 bytes).' });
  });

  it('accepts a line of exactly the limit and refuses one byte more', () => {
    const inbox = new CommandInbox(16);
    inbox.push(Buffer.from(`NOOP ${'a'.repeat(11)}\r\nNOOP ${'b'.repeat(12)}\r\n`));
    expect(show(drain(inbox))).toEqual([`NOOP ${'a'.repeat(11)}`, '<500>']);
  });

  it('answers lines that are not commands with their reply, and skips empty lines', () => {
    const inbox = new CommandInbox(64);
    inbox.push(Buffer.from([0x16, 0x03, 0x01, 0x0a, 0x0d, 0x0a, 0x0a, 0xc3, 0x28, 0x0d, 0x0a]));
    expect(show(drain(inbox))).toEqual(['<500>', '<501>']);
  });

  it('takes ABOR\\r without its LF as a whole ABOR (urgent-data ABOR of Python ftplib)', () => {
    const inbox = new CommandInbox(4096);
    inbox.push(Buffer.from([0xff, 0xf4, 0xff, ...Buffer.from('ABOR\r')]));
    expect(show(drain(inbox))).toEqual(['ABOR']);
    inbox.push(Buffer.from('\nNOOP\r\n'));
    expect(show(drain(inbox))).toEqual(['NOOP']);
  });

  it('does not take other lines ending in a bare CR as complete', () => {
    const inbox = new CommandInbox(4096);
    inbox.push(Buffer.from('NOOP\r'));
    expect(drain(inbox)).toEqual([]);
    inbox.push(Buffer.from('\n'));
    expect(show(drain(inbox))).toEqual(['NOOP']);
  });

  it('strips Telnet IP/DM sequences and keeps IAC IAC as one 0xFF', () => {
    expect(Buffer.from(stripTelnet(Buffer.from([0xff, 0xf4, 0xff, 0xf2, 0x41, 0x42]))).toString()).toBe('AB');
    expect([...stripTelnet(Buffer.from([0x41, 0xff, 0xff, 0x42]))]).toEqual([0x41, 0xff, 0x42]);
  });

  it('holds the bytes after AUTH untouched until told: takeRaw hands them over (the TLS handshake)', () => {
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x0a, 0x0a, 0x0d, 0xff]);
    const input = Buffer.concat([Buffer.from('NOOP\r\nAUTH TLS\r\n'), hello]);
    for (let cut = 0; cut <= input.length; cut++) {
      const inbox = new CommandInbox(4096);
      inbox.push(input.subarray(0, cut));
      inbox.push(input.subarray(cut));
      const events = drain(inbox);
      expect(show(events)).toEqual(['NOOP', 'AUTH TLS']);
      expect(events[1]).toMatchObject({ handsOver: true });
      expect(inbox.holdingRaw).toBe(true);
      expect(inbox.takeRaw().equals(hello)).toBe(true);
      expect(inbox.bufferedBytes).toBe(0);
    }
  });

  it('after a refused AUTH, resumeLines reads the held bytes as commands', () => {
    const inbox = new CommandInbox(4096);
    inbox.push(Buffer.from('AUTH KERBEROS\r\nUSER a'));
    inbox.push(Buffer.from('lice\r\nPASS x\r\n'));
    expect(show(drain(inbox))).toEqual(['AUTH KERBEROS']);
    inbox.resumeLines();
    expect(inbox.holdingRaw).toBe(false);
    expect(show(drain(inbox))).toEqual(['USER alice', 'PASS x']);
  });

  it('drops an unterminated last line when the peer has closed', () => {
    const inbox = new CommandInbox(4096);
    inbox.push(Buffer.from('NOOP\r\nRETR half'));
    expect(show(drain(inbox))).toEqual(['NOOP']);
    expect(inbox.bufferedBytes).toBe(9);
    inbox.dropPartialLine();
    expect(inbox.bufferedBytes).toBe(0);
    expect(drain(inbox)).toEqual([]);
  });
});
