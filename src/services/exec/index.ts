/** The exec service's public API (re-exported by the package root): its config, start and definition, the client, the protocol. */
export { execService, execConfigSchema, startExec, type ExecConfig } from './server.js';
export { ExecClient, type ExecClientOptions, type RunHandlers } from './client.js';
export * as execProtocol from './protocol.js';
