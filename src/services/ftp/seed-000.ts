/**
 * Seed 000 §9's file server (`LIST`, `STOR name`, `RETR name`, `EXIT`; `OK`/`FAIL` answers; files
 * ended by `##`), over one account's FTP home. The seed has no login: whoever reaches the port
 * has that account's files, within its quota. Messages are separated by time, as the seed's
 * server does with time.sleep(0.1): its client's recv() must return `OK` alone, then the data,
 * then `##` alone. docs/ftp.md, "The seeds' own file protocols", says where this breaks.
 */
import type { Connection } from '../../core/connection.js';
import type { Home } from './files.js';
import { existingFile, SeedRefusal, SeedUpload } from './seed-files.js';
import { endsWithMarker, parseSeed000Command, SEED_000_END_MARKER, SEED_000_MAX_COMMAND_BYTES } from './seed-protocol.js';
import { READ_CHUNK_BYTES, SeedHomeSession, type SeedHomeContext } from './seed-session.js';
import { pauseAfterWrites, streamFile, writeMessage } from './seed-stream.js';

export interface Seed000Context extends SeedHomeContext {
  /** The pause between messages (the seed's 0.1 s). */
  messageGapMs: number;
  /** Unknown commands in a row before the connection is closed. */
  maxBadCommands: number;
}

const OK = Buffer.from('OK');
const FAIL = Buffer.from('FAIL');

export class Seed000Session extends SeedHomeSession<Seed000Context> {
  #badCommands = 0;

  constructor(connection: Connection, ctx: Seed000Context, home: Home) {
    super('seed-000', connection, ctx, home);
  }

  protected async handle(chunk: Buffer): Promise<void> {
    if (this.upload) {
      await this.#receive(this.upload, chunk);
      return;
    }
    const command = parseSeed000Command(chunk);
    if (command.verb === 'BAD') {
      this.#badCommands++;
      this.log(`refused ${command.why}`);
      if (this.#badCommands >= this.ctx.maxBadCommands || chunk.length > SEED_000_MAX_COMMAND_BYTES) {
        this.connection.end(FAIL);
        return;
      }
      this.connection.write(FAIL);
      return;
    }
    this.#badCommands = 0;
    if (command.verb === 'EXIT') this.connection.end();
    else if (command.verb === 'LIST') await this.#list();
    else if (command.verb === 'STOR') await this.#stor(command.name);
    else await this.#retr(command.name);
  }

  async #list(): Promise<void> {
    const home = this.home;
    const names = (await home.list(home.root)).map((entry) => entry.name);
    if (names.length === 0) {
      this.connection.write(FAIL);
      return;
    }
    if (await writeMessage(this.connection, OK, this.ctx.messageGapMs)) this.connection.write(names.join('\n'));
  }

  async #stor(name: string): Promise<void> {
    try {
      this.upload = await SeedUpload.begin(this.ctx, this.home, this.ctx.account, name, { refuseExisting: true });
    } catch (error) {
      if (!(error instanceof SeedRefusal)) throw error;
      this.log(`STOR ${name} refused: ${error.message}`);
      this.connection.write(FAIL);
      return;
    }
    this.connection.write(OK);
  }

  async #receive(upload: SeedUpload, chunk: Buffer): Promise<void> {
    const last = endsWithMarker(chunk);
    const bytes = last ? chunk.subarray(0, chunk.length - SEED_000_END_MARKER.length) : chunk;
    try {
      if (bytes.length > 0) await upload.write(bytes);
      if (!last) return;
      this.upload = undefined;
      await upload.finish();
      this.log(`stored ${upload.name} (${upload.position} bytes)`);
    } catch (error) {
      // The seed's protocol has no answer during an upload: the connection is closed instead.
      if (this.upload) {
        this.upload = undefined;
        await upload.abandon();
      }
      throw error;
    }
  }

  async #retr(name: string): Promise<void> {
    let file;
    try {
      file = await existingFile(this.home, name);
    } catch (error) {
      if (!(error instanceof SeedRefusal)) throw error;
      this.connection.write(FAIL);
      return;
    }
    const gap = this.ctx.messageGapMs;
    if (!(await writeMessage(this.connection, OK, gap))) return;
    const sent = await streamFile(this.connection, file.real, { chunkBytes: READ_CHUNK_BYTES, highWater: this.ctx.writeHighWaterBytes });
    if (!sent) return;
    // The marker must reach the client's recv() alone: wait until the file has left, then a gap.
    if (!(await pauseAfterWrites(this.connection, gap))) return;
    this.connection.write(SEED_000_END_MARKER);
    this.log(`sent ${name} (${file.size} bytes)`);
  }

  protected failed(error: unknown): void {
    this.logClosing(error, error instanceof SeedRefusal);
    this.connection.destroy();
  }
}
