/** The discovery service's public API (re-exported by the package root): its config, start and definition, the client, the protocol. */
export { discoveryService, discoveryConfigSchema, startDiscovery, DEFAULT_DISCOVERY_PORT, type DiscoveryConfig, type DiscoveryRunningService } from './server.js';
export { DiscoveryClient, discover, type DiscoverOptions, type FoundServer } from './client.js';
export * as discoveryProtocol from './protocol.js';
