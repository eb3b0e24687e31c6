import { WharfError } from '../core/errors.js';

/**
 * How every `wharf` command ends. `process.exit()` drops what is still queued for a pipe (a
 * `wharf diary read | jq` was cut at 64 KiB, the pipe's buffer), so the exit waits until stdout
 * and stderr have handed everything to the operating system.
 */

/** The exit status of a command interrupted by Ctrl-C: 128 + SIGINT, as the shells report it. */
export const EXIT_INTERRUPTED = 130;
/** The exit status when the reader of stdout went away (`| head`): 128 + SIGPIPE, as `cat` gives. */
export const EXIT_BROKEN_PIPE = 141;

/** Ctrl-C at a prompt that reads the terminal itself (where no SIGINT reaches the process). */
export class InterruptedError extends WharfError {
  constructor() {
    super('EINTERRUPTED', 'interrupted');
  }
}

function flushed(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || stream.writableLength === 0) return Promise.resolve();
  // Writes complete in order: this empty one's callback runs once all before it are written.
  return new Promise((resolve) => stream.write('', () => resolve()));
}

/** Exit with `code` once everything written to stdout and stderr is out. */
export async function exitWhenFlushed(code: number): Promise<never> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

let interruptedByUser = false;

/** After the terminal's `^C`, the next output (or the shell's prompt) starts on a line of its own; a log file or pipe gets no blank line. */
function endTerminalLine(): void {
  if (process.stderr.isTTY) process.stderr.write('\n');
}

/** Whether Ctrl-C came while a command handled it itself (then its failure exits 130). */
export function wasInterrupted(): boolean {
  return interruptedByUser;
}

/** A command that handled Ctrl-C and carries on (the FTP shell, back at its prompt): it was not the end. */
export function forgetInterrupt(): void {
  interruptedByUser = false;
}

/**
 * Ctrl-C: a newline so that the shell's prompt starts on its own line after `^C`, then 130.
 * A command that listens for SIGINT itself (a transfer that aborts cleanly and keeps or removes
 * its partial file) owns Ctrl-C: the exit then waits for it, and its failure becomes 130.
 */
export function exitInterrupted(): void {
  interruptedByUser = true;
  if (process.listenerCount('SIGINT') > 1) return;
  endTerminalLine();
  void exitWhenFlushed(EXIT_INTERRUPTED);
}

/**
 * Install the process-wide endings: Ctrl-C exits 130, and a reader of stdout that went away
 * (`wharf diary read | head`) ends the command quietly instead of with an EPIPE stack trace.
 */
export function installExitHandlers(): void {
  process.on('SIGINT', exitInterrupted);
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT_BROKEN_PIPE);
    process.stderr.write(`wharf: cannot write the output: ${error.message}\n`);
    process.exit(1);
  });
}

/**
 * For `serve`, which stops gracefully on Ctrl-C: take SIGINT from the default ending. The
 * returned function says whether a Ctrl-C came, so the exit status can still be 130. `quiet`
 * (a cluster worker, which shares the primary's terminal) leaves the newline to the primary.
 */
export function takeOverInterrupts({ quiet = false } = {}): () => boolean {
  process.off('SIGINT', exitInterrupted);
  let interrupted = false;
  const onInterrupt = (): void => {
    if (!interrupted && !quiet) endTerminalLine();
    interrupted = true;
    // Still starting, before serve listens for SIGINT itself: nothing to stop gracefully yet.
    if (process.listenerCount('SIGINT') === 1) void exitWhenFlushed(EXIT_INTERRUPTED);
  };
  process.on('SIGINT', onInterrupt);
  return () => interrupted;
}
