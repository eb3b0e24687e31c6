import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { UsageError } from '../core/errors.js';
import { InterruptedError } from './exit.js';

export interface PromptStreams {
  input: NodeJS.ReadableStream;
  /** Where the question goes (stderr, so that stdout stays clean for what the command prints). */
  output: NodeJS.WritableStream;
}

/**
 * Ask for a secret on a terminal without echoing it: readline does the line editing (backspace,
 * Ctrl-U) and its echo goes to a stream that drops everything. Ctrl-C rejects with an
 * InterruptedError (exit 130), end of input with a UsageError.
 */
export function readHiddenLine(question: string, { input, output }: PromptStreams): Promise<string> {
  const muted = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  output.write(question);
  const lineReader = createInterface({ input, output: muted, terminal: true, historySize: 0 });
  return new Promise<string>((resolve, reject) => {
    let answered = false;
    lineReader.once('line', (line) => {
      answered = true;
      output.write('\n');
      lineReader.close();
      resolve(line);
    });
    let interrupted = false;
    lineReader.once('SIGINT', () => {
      interrupted = true;
      output.write('\n');
      lineReader.close();
    });
    lineReader.once('close', () => {
      if (answered) return;
      reject(interrupted ? new InterruptedError() : new UsageError('cancelled: no password entered'));
    });
  });
}

/** The first line of a stream (for `--password-stdin`), without its line ending; at most `maxBytes`. */
export function readFirstLine(input: NodeJS.ReadableStream, maxBytes = 64 * 1024): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error?: Error): void => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      input.removeListener('error', onError);
      input.pause();
      if (error) return reject(error);
      const text = Buffer.concat(chunks).toString('utf8');
      const newline = text.indexOf('\n');
      resolve((newline === -1 ? text : text.slice(0, newline)).replace(/\r$/, ''));
    };
    const onData = (chunk: Buffer | string): void => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(buffer);
      size += buffer.length;
      if (buffer.includes(10)) finish();
      else if (size > maxBytes) finish(new UsageError(`the first line of standard input is longer than ${maxBytes} bytes`));
    };
    const onEnd = (): void => finish();
    const onError = (error: Error): void => finish(error);
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', onError);
    input.resume();
  });
}
