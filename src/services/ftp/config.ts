import { z } from 'zod';
import { listenSchema, portSchema, sizeSchema, streamLimitsSchema } from '../../core/config.js';
import { isIPv4Literal, parsePortRange } from './protocol/addresses.js';
import { DEFAULT_MAX_COMMAND_BYTES } from './protocol/commands.js';

/**
 * The FTP service's settings (`services.ftp` in the config file, `--set ftp.KEY=VALUE`,
 * `WHARF_FTP_KEY`). Defaults follow vsftpd and pyftpdlib where they agree; docs/ftp.md has the
 * comparison.
 */
export const ftpConfigSchema = z
  .object({
    ...listenSchema,
    port: portSchema.default(2121),
    /** Files live under this folder: `users/<name>/` per account, `public/` for anonymous. Default `<data>/files`. */
    root: z.string().min(1).optional(),
    /** Passive data ports, `MIN-MAX`, or `0` for any port the system picks. */
    passivePorts: z
      .string()
      .default('30000-30099')
      .refine((text) => parsePortRange(text) !== undefined, { message: 'expected MIN-MAX (e.g. 30000-30099) or 0' }),
    /** The IPv4 address PASV announces instead of the listening one (the server behind NAT). */
    masqueradeAddress: z
      .string()
      .optional()
      .refine((text) => text === undefined || text === '' || isIPv4Literal(text), { message: 'expected an IPv4 address' }),
    /** Anonymous (`anonymous` / `ftp`) read-only access to `<root>/public`. */
    anonymous: z.boolean().default(false),
    /** Longest command line; a longer one is answered with 500 and skipped. */
    maxCommandBytes: z.number().int().min(64).max(1024 * 1024).default(DEFAULT_MAX_COMMAND_BYTES),
    /** Failed logins on one connection before it is closed (vsftpd max_login_fails, pyftpdlib max_login_attempts). */
    maxLoginFailures: z.number().int().min(1).default(3),
    /** Unknown or malformed commands in a row before the connection is closed. */
    maxBadCommands: z.number().int().min(1).default(50),
    /** A data connection with no progress for this long is aborted (vsftpd data_connection_timeout). */
    dataTimeoutMs: z.number().int().min(0).default(300_000),
    /** How long a passive port waits for its connection, and an active one to connect (vsftpd accept/connect_timeout). */
    connectTimeoutMs: z.number().int().min(1).default(60_000),
    /** Let PASV ports accept, and PORT/EPRT connect to, other hosts than the client (FXP). Off: no bounce attacks. */
    permitForeignAddresses: z.boolean().default(false),
    /** Let PORT/EPRT name ports below 1024. */
    permitPrivilegedPorts: z.boolean().default(false),
    /** PEM certificate (chain) and key files: turn on AUTH TLS (explicit FTPS, RFC 4217). */
    tlsCert: z.string().optional(),
    tlsKey: z.string().optional(),
    /** With TLS: refuse logins (except anonymous) and data connections that are not encrypted. */
    requireTls: z.boolean().default(false),
    /** The xferlog-format transfer log, relative to the data folder unless absolute; '' turns it off. */
    xferlog: z.string().default('logs/ftp-xferlog'),
    /** The 220 greeting. */
    banner: z.string().default('wharf FTP server ready.'),
    /** Read size for RETR. */
    retrChunkBytes: sizeSchema.default(1024 * 1024),
    ...streamLimitsSchema,
    maxConnections: z.number().int().positive().default(1000),
    /** Control connections from one address (vsftpd max_per_ip; FileZilla opens 2–3 per transfer window). */
    maxConnectionsPerIp: z.number().int().min(0).default(64),
    /** Seed 000 §9's file server (`LIST`/`STOR`/`RETR`/`EXIT`, `##`-ended files) over seedAccount's home. */
    seed000: z.boolean().default(false),
    seed000Port: portSchema.default(8880),
    /** Seed 001's header-framed transfers (4-byte length, JSON `{action, filename, filesize}`, body) over seedAccount's home. */
    seed001: z.boolean().default(false),
    seed001Port: portSchema.default(8881),
    /** Seed 002's JSON protocol (register, check_user, put with resume) over each account's home. */
    seed002: z.boolean().default(false),
    seed002Port: portSchema.default(8002),
    /** The account whose home and quota seed 000 and 001 serve: they have no login. */
    seedAccount: z.string().optional(),
    /** Seed 000's pause between messages (the seed's time.sleep(0.1)): its client needs `OK` and `##` in reads of their own. */
    seedMessageGapMs: z.number().int().min(0).max(5_000).default(100),
    /** Largest file a seed client may send, whatever its quota. */
    seedMaxFileBytes: sizeSchema.default(4 * 1024 ** 3),
  })
  .strict()
  .refine((c) => (c.tlsCert === undefined) === (c.tlsKey === undefined), { message: 'tlsCert and tlsKey go together', path: ['tlsCert'] })
  .refine((c) => !c.requireTls || c.tlsCert !== undefined, { message: 'requireTls needs tlsCert and tlsKey', path: ['requireTls'] })
  .refine((c) => !(c.seed000 || c.seed001) || (c.seedAccount ?? '') !== '', {
    message: 'seed000 and seed001 have no login: name the account whose files they serve',
    path: ['seedAccount'],
  });

export type FtpConfig = z.infer<typeof ftpConfigSchema>;
export type FtpConfigInput = z.input<typeof ftpConfigSchema>;
