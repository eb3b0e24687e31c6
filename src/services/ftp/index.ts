/** The FTP service's public surface: the server definition, the client, and the pure protocol. */
export { ftpService, ftpConfigSchema, startFtp, type FtpConfig, type FtpConfigInput, type FtpRunningService } from './server.js';
export { FtpClient, FtpError, parseListLine, type FtpClientOptions, type FtpEntry, type FtpQuota, type TransferOptions } from './client.js';
export * as ftpProtocol from './protocol/index.js';
