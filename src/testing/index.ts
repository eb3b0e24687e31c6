/**
 * Tools for testing protocols and services (Twisted's `twisted.internet.testing`): an in-memory
 * connection to drive a stream handler without sockets, and a UDP relay that loses, duplicates,
 * delays and reorders datagrams on purpose. Tests and benchmarks use them; the product does not.
 */
export * from './protocol-harness.js';
export * from './lossy-udp-relay.js';
