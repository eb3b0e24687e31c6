import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatEprtArgument, formatEpsvReply, formatPasvReply, formatPortArgument, parseEprtArgument, parseEpsvReply, parsePasvReply, parsePortArgument, parsePortRange, sameAddress } from '../../../src/services/ftp/protocol/addresses.js';
import { AsciiDecoder, AsciiEncoder } from '../../../src/services/ftp/protocol/ascii.js';
import { featureLines, parseCommand } from '../../../src/services/ftp/protocol/commands.js';
import { formatFacts, formatListLine, formatTime, parseFactsLine, parseMlstOpts, parseTime, splitListArgument, wildcardMatcher, hasWildcards, type EntryInfo } from '../../../src/services/ftp/protocol/listing.js';
import { partialNameFor, partialForWorkingName, uploadTempName, resolveVirtualPath } from '../../../src/services/ftp/protocol/paths.js';
import { isInsideRoot } from '../../../src/store/file-root.js';
import { ReplyParser, formatReply, quotePath, unquotePath } from '../../../src/services/ftp/protocol/replies.js';
import { formatXferlogLine } from '../../../src/services/ftp/protocol/xferlog.js';

describe('parseCommand', () => {
  it('splits verb (upper-cased) from an argument that keeps its spaces', () => {
    expect(parseCommand(Buffer.from('stor my file.txt'))).toEqual({ ok: true, command: { verb: 'STOR', argument: 'my file.txt' } });
    expect(parseCommand(Buffer.from('PWD'))).toEqual({ ok: true, command: { verb: 'PWD', argument: '' } });
    expect(parseCommand(Buffer.from('RETR  leading'))).toEqual({ ok: true, command: { verb: 'RETR', argument: ' leading' } });
  });

  it('refuses invalid UTF-8 (an overlong "." included), NUL, and non-commands', () => {
    expect(parseCommand(Buffer.from([0x52, 0x45, 0x54, 0x52, 0x20, 0xc0, 0xae, 0xc0, 0xae, 0x2f]))).toMatchObject({ ok: false, code: 501 });
    expect(parseCommand(Buffer.from('RETR a\u0000b'))).toMatchObject({ ok: false, code: 501 });
    expect(parseCommand(Buffer.from('HELLO-THERE x'))).toMatchObject({ ok: false, code: 500 });
    expect(parseCommand(Buffer.from('\x16\x03\x01'))).toMatchObject({ ok: false, code: 500 });
    expect(parseCommand(Buffer.from([0x00, 0x01, 0x02]))).toMatchObject({ ok: false });
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const result = parseCommand(bytes);
        if (!result.ok) expect(result.message).not.toMatch(/[\r\n]/);
      }),
    );
  });
});

describe('replies', () => {
  it('formats one-line and multi-line replies, indenting middle lines that start with a digit', () => {
    expect(formatReply(200, 'OK')).toBe('200 OK\r\n');
    expect(formatReply(211, ['Features:', ' MDTM', '123 trap', 'End'])).toBe('211-Features:\r\n MDTM\r\n 123 trap\r\n211 End\r\n');
  });

  it('cannot be forged by a name with CR LF in it', () => {
    expect(formatReply(550, 'a\r\n230 Login successful')).toBe('550 a  230 Login successful\r\n');
  });

  it('parses what it formats, across any split', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 20 }).filter((s) => !/[\r\n]/.test(s)), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 30 }), (texts, cut) => {
        const wire = formatReply(211, texts) + formatReply(200, 'done');
        const parser = new ReplyParser();
        const replies = [...parser.push(wire.slice(0, cut)), ...parser.push(wire.slice(cut))];
        expect(replies).toHaveLength(2);
        expect(replies[0]?.code).toBe(211);
        expect(replies[0]?.lines.map((l) => l.trimStart())).toEqual(texts.map((t) => t.trimStart()));
        expect(replies[1]).toEqual({ code: 200, lines: ['done'] });
      }),
    );
  });

  it('quotes paths in 257 replies', () => {
    expect(quotePath('/a "b"')).toBe('"/a ""b"""');
    expect(unquotePath('257 "/a ""b""" is the current directory')).toBe('/a "b"');
  });

  it('lists features with a leading space (RFC 2389) and TLS only when configured', () => {
    expect(featureLines({ tls: false }).slice(1, -1).every((line) => line.startsWith(' '))).toBe(true);
    expect(featureLines({ tls: false })).not.toContain(' AUTH TLS');
    expect(featureLines({ tls: true })).toContain(' AUTH TLS');
    expect(featureLines({ tls: false, facts: ['type', 'size'] }).join('\n')).toContain('MLST type*;size*;modify;perm;unique;unix.mode;');
  });
});

describe('resolveVirtualPath: the jail', () => {
  it('resolves relative and absolute paths, dots and double slashes', () => {
    expect(resolveVirtualPath('/a/b', 'c')).toMatchObject({ ok: true, path: '/a/b/c' });
    expect(resolveVirtualPath('/a/b', '../c/./d//e')).toMatchObject({ ok: true, path: '/a/c/d/e' });
    expect(resolveVirtualPath('/a/b', '/x')).toMatchObject({ ok: true, path: '/x' });
    expect(resolveVirtualPath('/', '.')).toMatchObject({ ok: true, path: '/', segments: [] });
  });

  it('refuses every climb above the home, NUL and control characters, and the server\'s own names', () => {
    for (const attempt of ['../../etc/passwd', '/../etc/passwd', 'a/../../etc/passwd', '..', '/..']) {
      expect(resolveVirtualPath('/', attempt)).toMatchObject({ ok: false, code: 550 });
    }
    expect(resolveVirtualPath('/a', '../../etc')).toMatchObject({ ok: false });
    expect(resolveVirtualPath('/', 'a\u0000b')).toMatchObject({ ok: false, code: 501 });
    expect(resolveVirtualPath('/', 'a\nb')).toMatchObject({ ok: false, code: 501 });
    expect(resolveVirtualPath('/', '.wharf-partial.x')).toMatchObject({ ok: false, code: 553 });
    expect(resolveVirtualPath('/', 'x'.repeat(256))).toMatchObject({ ok: false, code: 553 });
  });

  it('takes encodings literally: they are names, not ways out', () => {
    for (const attempt of ['%2e%2e/%2e%2e/etc/passwd', '..%2f..%2fetc%2fpasswd', '..\\..\\etc\\passwd', '....//....//etc/passwd', '..;/etc']) {
      const result = resolveVirtualPath('/', attempt);
      if (result.ok) expect(result.segments.every((s) => s !== '..')).toBe(true);
    }
  });

  it('never yields a path with ".." or outside "/" (property)', () => {
    const segment = fc.oneof(fc.constantFrom('..', '.', '', 'a', 'b', '...', '.. ', ' ..'), fc.string({ maxLength: 5 }));
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 8 }), fc.array(segment, { maxLength: 8 }), fc.boolean(), (cwdParts, argParts, absolute) => {
        const cwd = resolveVirtualPath('/', cwdParts.join('/'));
        if (!cwd.ok) return;
        const result = resolveVirtualPath(cwd.path, (absolute ? '/' : '') + argParts.join('/'));
        if (!result.ok) return;
        expect(result.path.startsWith('/')).toBe(true);
        expect(result.segments).not.toContain('..');
        expect(result.segments).not.toContain('.');
        expect(result.segments).not.toContain('');
        expect(isInsideRoot('/home/u', `/home/u${result.path === '/' ? '' : result.path}`)).toBe(true);
      }),
    );
  });

  it('names partial and working files within 255 bytes, a working file telling its writer and its partial', () => {
    expect(partialNameFor('a.txt')).toBe('.wharf-partial.a.txt');
    expect(partialForWorkingName(uploadTempName('0123456789abcdef', 'a.txt', 4242))).toEqual({ pid: 4242, partial: '.wharf-partial.a.txt' });
    expect(Buffer.byteLength(uploadTempName('0123456789abcdef', 'é'.repeat(127), 4194304))).toBeLessThanOrEqual(255);
    expect(partialForWorkingName(uploadTempName('0123456789abcdef', 'é'.repeat(127), 99))?.partial).toBe(partialNameFor('é'.repeat(127)));
    expect(partialForWorkingName('.wharf-upload.0123456789abcdef')).toBeUndefined();
    expect(Buffer.byteLength(partialNameFor('é'.repeat(127)))).toBeLessThanOrEqual(255);
    expect(partialNameFor('é'.repeat(127))).toBe(partialNameFor('é'.repeat(127)));
    expect(partialNameFor('é'.repeat(127))).not.toBe(partialNameFor('è'.repeat(127)));
  });
});

describe('listings', () => {
  const file: EntryInfo = { name: 'notes ## 1.txt', type: 'file', size: 1234, mtime: new Date(Date.UTC(2024, 0, 5, 9, 7, 3)), mode: 0o644, dev: 2049, ino: 77, owner: 'alice', writable: true };
  const dir: EntryInfo = { name: 'docs', type: 'dir', size: 4096, mtime: new Date(Date.UTC(2020, 10, 30, 0, 0)), mode: 0o755, writable: true };

  it('LIST lines look like ls -l: time for recent files, year for old ones', () => {
    expect(formatListLine(file, new Date(Date.UTC(2024, 1, 1)))).toBe('-rw-r--r-- 1 alice    ftp               1234 Jan  5 09:07 notes ## 1.txt');
    expect(formatListLine(dir, new Date(Date.UTC(2024, 1, 1)))).toBe('drwxr-xr-x 2 ftp      ftp               4096 Nov 30  2020 docs');
  });

  it('MLSD facts follow RFC 3659 and parse back', () => {
    const line = formatFacts(file, ['type', 'size', 'modify', 'perm', 'unique', 'unix.mode']);
    expect(line).toBe('type=file;size=1234;modify=20240105090703;perm=adfrw;unique=801g4d;UNIX.mode=0644; notes ## 1.txt');
    expect(parseFactsLine(line)).toEqual({ name: 'notes ## 1.txt', facts: { type: 'file', size: '1234', modify: '20240105090703', perm: 'adfrw', unique: '801g4d', 'unix.mode': '0644' } });
    expect(formatFacts(dir, ['type', 'size'])).toBe('type=dir; docs');
    expect(parseMlstOpts('Type;SIZE;bogus;')).toEqual(['type', 'size']);
  });

  it('splits LIST options from the path', () => {
    expect(splitListArgument('-la docs')).toEqual({ options: 'la', path: 'docs' });
    expect(splitListArgument('-a')).toEqual({ options: 'a', path: '' });
    expect(splitListArgument('my dir')).toEqual({ options: '', path: 'my dir' });
    expect(splitListArgument('-')).toEqual({ options: '', path: '-' });
  });

  it('matches shell wildcards for LIST/NLST (mget *.txt)', () => {
    const names = ['a.txt', 'b.txt', 'a.pdf', '.hidden.txt', 'report-01.pdf', 'x[1].txt', 'a+b.txt'];
    const pick = (pattern: string) => names.filter(wildcardMatcher(pattern));
    expect(pick('*.txt')).toEqual(['a.txt', 'b.txt', 'x[1].txt', 'a+b.txt']);
    expect(pick('.*')).toEqual(['.hidden.txt']);
    expect(pick('report-??.pdf')).toEqual(['report-01.pdf']);
    expect(pick('[ab].*')).toEqual(['a.txt', 'b.txt', 'a.pdf']);
    expect(pick('[!a]*')).toEqual(['b.txt', 'report-01.pdf', 'x[1].txt']);
    expect(pick('a+b.txt')).toEqual(['a+b.txt']);
    expect(pick('x[1.txt')).toEqual([]);
    expect(hasWildcards('plain.txt')).toBe(false);
    expect(hasWildcards('*.txt')).toBe(true);
  });

  it('formats and parses MDTM times', () => {
    const date = new Date(Date.UTC(2024, 1, 29, 23, 59, 58));
    expect(formatTime(date)).toBe('20240229235958');
    expect(parseTime('20240229235958')?.getTime()).toBe(date.getTime());
    expect(parseTime('20240229235958.5')?.getTime()).toBe(date.getTime() + 500);
    expect(parseTime('20230229000000')).toBeUndefined();
    expect(parseTime('2024')).toBeUndefined();
  });
});

describe('ASCII mode', () => {
  function encodeAll(chunks: Buffer[]): Buffer {
    const encoder = new AsciiEncoder();
    return Buffer.concat(chunks.map((c) => encoder.push(c)));
  }
  function decodeAll(chunks: Buffer[]): Buffer {
    const decoder = new AsciiDecoder();
    return Buffer.concat([...chunks.map((c) => decoder.push(c)), decoder.end()]);
  }
  function split(data: Buffer, cuts: number[]): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    for (const cut of cuts) {
      out.push(data.subarray(at, Math.min(data.length, at + cut)));
      at += cut;
    }
    out.push(data.subarray(Math.min(at, data.length)));
    return out;
  }

  it('turns LF into CR LF on the way out and back on the way in', () => {
    expect(encodeAll([Buffer.from('a\nb\r\nc\n')]).toString()).toBe('a\r\nb\r\nc\r\n');
    expect(decodeAll([Buffer.from('a\r\nb\r\nc\rd')]).toString()).toBe('a\nb\nc\rd');
  });

  it('does not depend on where chunks are cut (CR LF split across chunks)', () => {
    const bytes = fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a.map((b) => [10, 13, 65][b % 3] as number)));
    fc.assert(
      fc.property(bytes, fc.array(fc.integer({ min: 0, max: 20 })), (data, cuts) => {
        expect(encodeAll(split(data, cuts)).equals(encodeAll([data]))).toBe(true);
        expect(decodeAll(split(data, cuts)).equals(decodeAll([data]))).toBe(true);
      }),
    );
  });

  it('a text file without CR survives a round trip', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }).map((s) => s.replace(/\r/g, '')), fc.array(fc.integer({ min: 0, max: 20 })), (text, cuts) => {
        const data = Buffer.from(text);
        const wire = encodeAll(split(data, cuts));
        expect(decodeAll(split(wire, cuts)).equals(data)).toBe(true);
      }),
    );
  });
});

describe('data connection addresses', () => {
  it('PORT and PASV', () => {
    expect(parsePortArgument('127,0,0,1,200,10')).toEqual({ host: '127.0.0.1', port: 51210, family: 1 });
    expect(formatPortArgument('127.0.0.1', 51210)).toBe('127,0,0,1,200,10');
    expect(formatPasvReply('10.0.0.1', 30000)).toBe('Entering Passive Mode (10,0,0,1,117,48).');
    expect(parsePasvReply('227 Entering Passive Mode (10,0,0,1,117,48).')).toEqual({ host: '10.0.0.1', port: 30000, family: 1 });
    for (const bad of ['127,0,0,1,200', '256,0,0,1,1,1', '127,0,0,1,0,0', 'a,b,c,d,e,f', '']) expect(parsePortArgument(bad)).toBeUndefined();
  });

  it('EPRT and EPSV, IPv4 and IPv6', () => {
    expect(parseEprtArgument('|1|132.235.1.2|6275|')).toEqual({ host: '132.235.1.2', port: 6275, family: 1 });
    expect(parseEprtArgument('|2|1080::8:800:200C:417A|5282|')).toEqual({ host: '1080::8:800:200c:417a', port: 5282, family: 2 });
    expect(parseEprtArgument('!2!::1!5282!')).toEqual({ host: '::1', port: 5282, family: 2 });
    for (const bad of ['|1|::1|5|', '|2|1.2.3.4|5|', '|1|1.2.3.4|0|', '|1|1.2.3.4|70000|', '|3|1.2.3.4|5|', '1|1.2.3.4|5|']) expect(parseEprtArgument(bad)).toBeUndefined();
    expect(formatEprtArgument('::1', 5)).toBe('|2|::1|5|');
    expect(parseEpsvReply(formatEpsvReply(30001))).toBe(30001);
  });

  it('round-trips any IPv4 address and port', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 1, max: 65535 }), (host, port) => {
        expect(parsePortArgument(formatPortArgument(host, port))).toEqual({ host, port, family: 1 });
        expect(parseEprtArgument(formatEprtArgument(host, port))).toEqual({ host, port, family: 1 });
      }),
    );
  });

  it('compares addresses across IPv4-mapped IPv6', () => {
    expect(sameAddress('::ffff:127.0.0.1', '127.0.0.1')).toBe(true);
    expect(sameAddress('::1', '0:0:0:0:0:0:0:1')).toBe(true);
    expect(sameAddress('127.0.0.1', '127.0.0.2')).toBe(false);
  });

  it('parses passive port ranges', () => {
    expect(parsePortRange('30000-30099')).toEqual({ min: 30000, max: 30099 });
    expect(parsePortRange('0')).toEqual({ min: 0, max: 0 });
    expect(parsePortRange('30099-30000')).toBeUndefined();
    expect(parsePortRange('0-10')).toBeUndefined();
  });
});

describe('xferlog', () => {
  it('writes the 14 fields of wu-ftpd/vsftpd xferlog', () => {
    const line = formatXferlogLine({
      time: new Date(Date.UTC(2021, 2, 4, 8, 12, 30)),
      durationMs: 1400,
      remoteHost: '127.0.0.1',
      bytes: 1024,
      path: '/a dir/file',
      type: 'binary',
      direction: 'incoming',
      access: 'real',
      user: 'alice',
      complete: true,
    });
    expect(line).toBe('Thu Mar  4 08:12:30 2021 1 127.0.0.1 1024 /a_dir/file b _ i r alice ftp 0 * c');
    expect(line.split(/\s+/)).toHaveLength(18);
  });
});
