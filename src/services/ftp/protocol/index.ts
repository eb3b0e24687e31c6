/** The pure FTP protocol, one subject a file; this index is the package's public `ftpProtocol` namespace (index.ts). Code inside wharf imports the files themselves. */
export * from './addresses.js';
export * from './ascii.js';
export * from './command-inbox.js';
export * from './commands.js';
export * from './hash.js';
export * from './listing.js';
export * from './paths.js';
export * from './replies.js';
export * from './session-state.js';
export * from './xferlog.js';
