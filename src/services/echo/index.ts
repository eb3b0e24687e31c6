/** The echo service's public API (re-exported by the package root): its config, start and definition, the client, the protocol. */
export { echoService, echoConfigSchema, startEcho, createEchoHandler, type EchoConfig } from './server.js';
export { EchoClient, echoOverUdp, type EchoClientOptions } from './client.js';
export * as echoProtocol from './protocol.js';
