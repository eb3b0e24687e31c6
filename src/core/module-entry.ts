/**
 * Code that runs in another process or thread (a forked child, a worker) is started from a file.
 * From dist/ that file is the compiled `.js` beside the caller; from the sources (tsx, vitest) it
 * is the `.ts`, which needs tsx's loader in the new process or thread too.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

export interface ModuleEntry {
  /** The file to run. */
  path: string;
  /** True when it is a `.ts` file of the sources, which needs tsx's loader. */
  fromSources: boolean;
}

/** The module `name` (no extension) beside the module at `importMetaUrl`, as the caller runs: `.ts` or `.js`. */
export function siblingModule(importMetaUrl: string, name: string): ModuleEntry {
  const fromSources = importMetaUrl.endsWith('.ts');
  return { path: fileURLToPath(new URL(`./${name}${fromSources ? '.ts' : '.js'}`, importMetaUrl)), fromSources };
}

/** The `execArgv` a forked child needs to run `entry`. */
export function forkExecArgv(entry: ModuleEntry): string[] {
  return entry.fromSources ? ['--import', 'tsx'] : [];
}

/**
 * A worker thread running `entry`. From the sources, the worker first registers tsx itself:
 * `--import tsx` in a worker's execArgv is not applied on Node 20, and a worker does not inherit
 * the loader of the thread that starts it.
 */
export function startModuleWorker(entry: ModuleEntry, options: WorkerOptions = {}): Worker {
  if (!entry.fromSources) return new Worker(entry.path, options);
  const url = JSON.stringify(pathToFileURL(entry.path).href);
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${url}); })`, { ...options, eval: true });
}
