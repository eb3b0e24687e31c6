import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/**
 * One data folder for every `wharf` command, wherever it is run from: `--data`, else
 * `WHARF_DATA`, else `$XDG_DATA_HOME/wharf`, else `~/.local/share/wharf`. A folder that followed
 * the current directory let `wharf user add` write accounts a running server never saw.
 */
export const DATA_FOLDER_HELP = 'data folder (default $XDG_DATA_HOME/wharf or ~/.local/share/wharf; env WHARF_DATA)';

/** The data folder, absolute, from a `--data` flag and the environment. */
export function dataFolder(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  if (flag) return resolve(flag);
  if (env.WHARF_DATA) return resolve(env.WHARF_DATA);
  return defaultDataFolder(env);
}

/** `$XDG_DATA_HOME/wharf`, or `~/.local/share/wharf` (the XDG base directory default). */
export function defaultDataFolder(env: NodeJS.ProcessEnv): string {
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  const xdg = env.XDG_DATA_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.local', 'share');
  return join(base, 'wharf');
}
