import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ChatTerminal, displayWidth, sanitizeForTerminal } from '../../../src/services/chat/terminal.js';

/** A fake terminal: keys in, everything written kept (escape sequences and all). */
function fakeTerminal(columns = 40) {
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => {} });
  let written = '';
  const output = Object.assign(
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written += chunk.toString();
        callback();
      },
    }),
    { isTTY: true, columns },
  );
  return { input, output, written: () => written, clear: () => (written = '') };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
/** What a terminal shows at the end of `text`, roughly: escape sequences removed. */
// eslint-disable-next-line no-control-regex -- removing escape sequences is the point
const plain = (text: string) => text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');

describe('chat terminal', () => {
  it('prints a message above the line being typed and redraws the typed text', async () => {
    const term = fakeTerminal();
    const lines: string[] = [];
    const terminal = new ChatTerminal({ input: term.input, output: term.output, prompt: 'me> ' }, { line: (l) => lines.push(l), interrupt: () => {}, end: () => {} });
    terminal.start();
    term.input.write('half 中文');
    await tick();
    term.clear();
    terminal.print('12:00 bob : 你好 🌊');
    const out = term.written();
    // Clear the prompt row, print the message on its own line, then the prompt and the typed text again.
    expect(out).toContain('\u001b[0J');
    expect(plain(out)).toContain('12:00 bob : 你好 🌊\n');
    expect(plain(out).endsWith('me> half 中文')).toBe(true);
    expect(terminal.typed).toBe('half 中文');
    term.input.write(' done\r');
    await tick();
    expect(lines).toEqual(['half 中文 done']);
    terminal.close();
  });

  it('neutralises escape sequences and bidi overrides a peer may send', () => {
    expect(sanitizeForTerminal('a\u001b[2Jb\u202ec\u0007')).toBe('a\ufffd[2Jb\ufffdc\ufffd');
    expect(sanitizeForTerminal('tab\tok 中文 😀')).toBe('tab\tok 中文 😀');
  });

  it('counts wide characters as two columns', () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('中文')).toBe(4);
    expect(displayWidth('😀')).toBe(2);
    expect(displayWidth('é')).toBe(1);
    expect(displayWidth('e\u0301')).toBe(1);
  });

  it('without a terminal, prints plain lines and reports the end of input', async () => {
    const input = new PassThrough();
    let written = '';
    const output = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written += chunk.toString();
        callback();
      },
    });
    const lines: string[] = [];
    let ended = false;
    const terminal = new ChatTerminal({ input, output }, { line: (l) => lines.push(l), interrupt: () => {}, end: () => (ended = true) });
    input.end('one\ntwo\n');
    await tick();
    await tick();
    terminal.print('after the end of input');
    expect(lines).toEqual(['one', 'two']);
    expect(ended).toBe(true);
    expect(written).toBe('after the end of input\n');
  });
});
