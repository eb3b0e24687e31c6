#!/usr/bin/env node
import { CommanderError } from 'commander';
import { EXIT_INTERRUPTED, exitWhenFlushed, installExitHandlers, wasInterrupted } from '../cli-kit/index.js';
import { UsageError, WharfError } from '../core/errors.js';
import { buildProgram } from './program.js';

/**
 * Exit codes: 0 success, 1 failure, 2 usage error (bad flag, bad config), 130 interrupted
 * (Ctrl-C), 141 the reader of stdout went away. A WharfError prints one sentence; anything else
 * is a bug and prints its stack. Every message starts with `wharf:`.
 */
async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  try {
    const program = buildProgram((code) => {
      exitCode = code;
    });
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // help and version "errors" are successes; commander already printed the message.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
      if (error.code === 'commander.executeSubCommandAsync') return 1;
      return 2;
    }
    // The prompt has ended its line already.
    if (error instanceof WharfError && error.code === 'EINTERRUPTED') return EXIT_INTERRUPTED;
    if (error instanceof UsageError) {
      process.stderr.write(`wharf: ${error.message}\n`);
      return 2;
    }
    if (error instanceof WharfError) {
      process.stderr.write(`wharf: ${error.message}\n`);
      return wasInterrupted() ? EXIT_INTERRUPTED : 1;
    }
    process.stderr.write(`wharf: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

installExitHandlers();
let finished = false;
// Node exits 0 when nothing is left to wait for, even if the command never finished (a promise
// nobody will settle): that is a bug of ours, and must not look like success.
process.on('beforeExit', () => {
  if (finished) return;
  process.stderr.write('wharf: internal error: the command stopped before it finished\n');
  process.exitCode = 1;
});
// Whatever the command left open (a socket, a prompt), it is done: exit once the output is out.
void main(process.argv).then((code) => {
  finished = true;
  return exitWhenFlushed(code);
});
