import { Command } from 'commander';
import { DATA_FOLDER_HELP, dataFolder, type RegisterCli } from '../cli-kit/index.js';
import { askControlSocket } from '../core/control-socket.js';
import { WharfError } from '../core/errors.js';

/**
 * `wharf status` and `wharf stop`: the server console's `status` and `quit`, typed from another
 * terminal through the control socket in the data folder. They load neither the services nor the
 * store, so they answer at once.
 */

/** Beyond the server's own deadline, how long `wharf stop` waits for the process to be gone. */
const STOP_MARGIN_MS = 10_000;

interface Flags {
  data?: string;
  json?: boolean;
}

/** The two commands, described as `wharf --help` lists them without loading this module. */
export function registerControlCommands(summaries: { status: string; stop: string }): RegisterCli {
  return (program) => {
    program.addCommand(statusCommand(summaries.status));
    program.addCommand(stopCommand(summaries.stop));
  };
}

function statusCommand(summary: string): Command {
  return new Command('status')
    .description(summary)
    .option('--data <dir>', DATA_FOLDER_HELP)
    .option('--json', 'print the status as one JSON object')
    .action(async (flags: Flags) => {
      const answer = await ask(flags, 'status');
      process.stdout.write(`${flags.json ? JSON.stringify(answer.data) : answer.text}\n`);
    });
}

function stopCommand(summary: string): Command {
  return new Command('stop')
    .description(summary)
    .option('--data <dir>', DATA_FOLDER_HELP)
    .action(async (flags: Flags) => {
      const answer = await ask(flags, 'quit');
      const { pid, shutdownDeadlineMs } = answer.data as { pid: number; shutdownDeadlineMs: number };
      process.stderr.write(`${answer.text}\n`);
      if (!(await exited(pid, shutdownDeadlineMs + STOP_MARGIN_MS))) {
        throw new WharfError('EDEADLINE', `the server (pid ${pid}) is still running ${(shutdownDeadlineMs + STOP_MARGIN_MS) / 1000} s later`);
      }
      process.stderr.write('stopped\n');
    });
}

async function ask(flags: Flags, line: string): Promise<{ text: string; data?: unknown }> {
  const answer = await askControlSocket(dataFolder(flags.data, process.env), line);
  if (!answer.ok) throw new WharfError('ECONSOLE', answer.text);
  return answer;
}

/** Wait until process `pid` is gone (the server runs on this machine: its socket is a local file). */
async function exited(pid: number, limitMs: number): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch (error) {
      // EPERM: the pid is someone else's now, so ours is gone.
      if ((error as NodeJS.ErrnoException).code === 'ESRCH' || (error as NodeJS.ErrnoException).code === 'EPERM') return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}
