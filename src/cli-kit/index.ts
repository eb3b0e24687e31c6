/**
 * What a service's `cli.ts` needs from the command line: the context `serve` verbs call, option
 * parsers, host flags, prompts, the data folder and how a command ends. It imports only
 * commander, node and core, so a client command loads none of `serve`, the store or the cluster.
 */
export { addHostOptions, type CliContext, type RegisterCli } from './context.js';
export { DATA_FOLDER_HELP, dataFolder, defaultDataFolder } from './data-folder.js';
export { EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, InterruptedError, exitInterrupted, exitWhenFlushed, forgetInterrupt, installExitHandlers, takeOverInterrupts, wasInterrupted } from './exit.js';
export { collect, nonNegativeInt, port, positiveInt } from './options.js';
export { readFirstLine, readHiddenLine, type PromptStreams } from './prompt.js';
