/** The TFTP service's public API, re-exported by the package root. */
export { tftpService, tftpConfigSchema, startTftp, type TftpConfig, type TftpRunningService } from './server.js';
export { TftpClient, tftpGet, tftpPut, type TftpClientOptions, type TftpClientResult } from './client.js';
export { TftpTransferError, type TransferResult as TftpTransferResult } from './transfer.js';
export * as tftpProtocol from './protocol.js';
