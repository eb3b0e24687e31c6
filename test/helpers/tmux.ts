import { execFileSync } from 'node:child_process';

/**
 * An interactive bash with job control, in a tmux server of its own (its own socket, so tests
 * never touch a person's tmux sessions): what a user types, typed.
 */
export class TmuxShell {
  readonly #socket: string;

  private constructor(socket: string) {
    this.#socket = socket;
  }

  static start(env: Record<string, string> = {}): TmuxShell {
    const shell = new TmuxShell(`wharf-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    const exports = Object.entries(env).map(([key, value]) => `${key}='${value.replaceAll("'", "'\\''")}'`).join(' ');
    shell.#tmux('-f', '/dev/null', 'new-session', '-d', '-x', '200', '-y', '50', `env ${exports} PS1='$ ' bash --norc --noprofile -i`);
    return shell;
  }

  /** Type `text` and press Enter. */
  type(text: string): void {
    this.#tmux('send-keys', '-t', '0', '-l', text);
    this.#tmux('send-keys', '-t', '0', 'Enter');
  }

  /** Press a key by its tmux name (`C-c`, `C-z`). */
  press(key: string): void {
    this.#tmux('send-keys', '-t', '0', key);
  }

  screen(): string {
    return this.#tmux('capture-pane', '-p', '-t', '0');
  }

  close(): void {
    try {
      this.#tmux('kill-server');
    } catch {
      // Already gone.
    }
  }

  #tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.#socket, ...args], { encoding: 'utf8', timeout: 10_000 });
  }
}

/** Wait until `probe` returns a value (not undefined), polling; throw after `limitMs`. */
export async function waitFor<T>(probe: () => T | undefined, what: string, limitMs = 20_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
