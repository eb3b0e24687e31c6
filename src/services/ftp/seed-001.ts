/**
 * Seed 001's file transfer: frames of a 4-byte length (struct.pack("i"): little-endian), a JSON
 * header `{action, filename, filesize}` and `filesize` bytes of body, decoded by the toolkit's
 * HeaderFrameDecoder. `put` stores the body in one account's FTP home (the seed has no login);
 * `get` is answered with a frame of the same shape. Every request is answered with a frame:
 * `{action: "ok"}` after a stored file, `{action: "error", message}` before closing. The seed's
 * sender never reads them, which does it no harm.
 */
import type { Connection } from '../../core/connection.js';
import { CodecError } from '../../codec/errors.js';
import { encodeHeaderFrame, HeaderFrameDecoder, type HeaderFrameEvent } from '../../codec/header-frame.js';
import type { Home } from './files.js';
import { describeFailure, existingFile, SeedRefusal, SeedUpload } from './seed-files.js';
import { parseSeed001Header, SEED_001_MAX_HEADER_BYTES, seedFileName } from './seed-protocol.js';
import { READ_CHUNK_BYTES, SeedHomeSession, type SeedHomeContext } from './seed-session.js';
import { streamFile } from './seed-stream.js';

export type Seed001Context = SeedHomeContext;

export class Seed001Session extends SeedHomeSession<Seed001Context> {
  readonly #decoder: HeaderFrameDecoder;

  constructor(connection: Connection, ctx: Seed001Context, home: Home) {
    super('seed-001', connection, ctx, home);
    this.#decoder = new HeaderFrameDecoder({ maxHeaderBytes: SEED_001_MAX_HEADER_BYTES, maxBodyBytes: ctx.maxFileBytes });
  }

  protected async handle(chunk: Buffer): Promise<void> {
    const events: HeaderFrameEvent[] = [];
    this.#decoder.push(chunk, (event) => events.push(event));
    for (const event of events) {
      if (event.type === 'header') await this.#request(event.header, event.bodyBytes);
      else if (event.type === 'body') await this.upload?.write(event.chunk);
      else await this.#bodyEnded();
    }
  }

  async #request(header: Record<string, unknown>, bodyBytes: number): Promise<void> {
    const request = parseSeed001Header(header);
    if (request.action === 'bad') {
      this.#refuse(request.why);
      return;
    }
    const name = seedFileName(request.filename);
    try {
      if (request.action === 'get') await this.#get(name);
      else this.upload = await SeedUpload.begin(this.ctx, this.home, this.ctx.account, name, { size: bodyBytes });
    } catch (error) {
      if (!(error instanceof SeedRefusal)) throw error;
      // A refused put's body is not read: the sender finds the connection closed.
      this.#refuse(error.message);
    }
  }

  async #bodyEnded(): Promise<void> {
    const upload = this.upload;
    if (!upload) return;
    this.upload = undefined;
    await upload.finish();
    this.log(`stored ${upload.name} (${upload.position} bytes)`);
    this.connection.write(encodeHeaderFrame({ action: 'ok', filename: upload.name }, 0));
  }

  async #get(name: string): Promise<void> {
    const file = await existingFile(this.home, name);
    this.connection.write(encodeHeaderFrame({ action: 'get', filename: name }, file.size));
    // Exactly the announced bytes; a file cut shorter meanwhile would break the framing, so the connection closes.
    const sent = await streamFile(this.connection, file.real, { chunkBytes: READ_CHUNK_BYTES, highWater: this.ctx.writeHighWaterBytes, length: file.size });
    if (sent) this.log(`sent ${name} (${file.size} bytes)`);
    else this.connection.destroy();
  }

  #refuse(why: string): void {
    this.log(`refused: ${why}`);
    this.connection.end(encodeHeaderFrame({ action: 'error', message: why }, 0));
  }

  protected failed(error: unknown): void {
    void this.abandon();
    const peerMistake = error instanceof CodecError || error instanceof SeedRefusal;
    this.logClosing(error, peerMistake);
    if (peerMistake) this.connection.end(encodeHeaderFrame({ action: 'error', message: describeFailure(error) }, 0));
    else this.connection.destroy();
  }
}
