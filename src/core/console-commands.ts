import { WharfError } from './errors.js';
import type { ConsoleCommand } from './service.js';

/** The answer to one line: a sentence (or a few lines) for a person, and data for `--json`. */
export interface ConsoleAnswer {
  ok: boolean;
  text: string;
  data?: unknown;
  /** The line named no command and went to the command that takes other lines (nothing to print when ok). */
  otherLine?: boolean;
}

/** A command's answer that carries data too (the host's `status`). */
export interface DataCommand extends Omit<ConsoleCommand, 'run'> {
  run(argument: string): Promise<{ text: string; data?: unknown }>;
}

/**
 * The server console's command table: the first word of a line names the command, the rest is
 * its argument. The same table answers the terminal and the control socket; only the terminal
 * hands a line that names no command to the command that takes other lines (the chat's `say`),
 * so a script's typo over the socket is an error, never a broadcast.
 */
export class ConsoleCommands {
  readonly #commands = new Map<string, DataCommand>();

  constructor(commands: Iterable<DataCommand | ConsoleCommand>) {
    for (const command of commands) {
      if (this.#commands.has(command.name)) throw new WharfError('ECONSOLE', `two console commands are named ${command.name}`);
      this.#commands.set(command.name, command as DataCommand);
    }
  }

  /** `help`: one line per command. */
  help(): string {
    const commands = [...this.#commands.values()];
    const width = Math.max(...commands.map((command) => command.usage.length));
    const other = commands.find((command) => command.takesOtherLines);
    const lines = commands.map((command) => `  ${command.usage.padEnd(width)}  ${command.summary}`);
    if (other) lines.push(`A typed line that is no command is the same as \`${other.name} LINE\`.`);
    return lines.join('\n');
  }

  /** Run one line. `typed`: it came from the terminal, where a line that is no command has a taker. */
  async run(line: string, { typed }: { typed: boolean }): Promise<ConsoleAnswer | undefined> {
    const trimmed = line.trim();
    if (trimmed === '') return undefined;
    const space = trimmed.search(/\s/);
    const name = space < 0 ? trimmed : trimmed.slice(0, space);
    const argument = space < 0 ? '' : trimmed.slice(space + 1).trim();
    let command = this.#commands.get(name);
    let otherLine = false;
    if (!command && typed) {
      command = [...this.#commands.values()].find((candidate) => candidate.takesOtherLines);
      otherLine = true;
    }
    if (!command) return { ok: false, text: `unknown command ${JSON.stringify(name.slice(0, 40))}; commands: ${[...this.#commands.keys()].join(', ')}` };
    try {
      const answer = await command.run(otherLine ? line : argument);
      return { ok: true, ...(typeof answer === 'string' ? { text: answer } : answer), ...(otherLine ? { otherLine } : {}) };
    } catch (error) {
      if (error instanceof WharfError) return { ok: false, text: error.message };
      throw error;
    }
  }
}
