/** The web service's public API (re-exported by the package root): its config, start and definition, the client, the seeds' WebServer class, the protocol. */
export { webService, webConfigSchema, startWeb, type WebConfig, type WebConfigInput, type WebServerHandle } from './server.js';
export { WebClient, type WebClientOptions, type WebClientResponse, type WebGetOptions, type WebGetResult } from './client.js';
export { WebServer, type WebServerOptions } from './web-server.js';
export * as webProtocol from './protocol.js';
