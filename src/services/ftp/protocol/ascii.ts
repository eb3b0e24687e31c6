/** ASCII mode (TYPE A), pure: the network form ends lines with CR LF; files here end them with LF. */

const LF = 0x0a;
const CR = 0x0d;

/**
 * File → network: every LF not already preceded by CR becomes CR LF. Streaming: remembers whether
 * the previous chunk ended with CR. `push` returns the converted chunk.
 */
export class AsciiEncoder {
  #lastWasCr = false;

  push(chunk: Uint8Array): Buffer {
    const previousWasCr = this.#lastWasCr;
    const input = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (chunk.length > 0) this.#lastWasCr = chunk[chunk.length - 1] === CR;
    const extra = asciiExtraBytes(chunk, previousWasCr);
    if (extra === 0) return input;
    const out = Buffer.allocUnsafe(chunk.length + extra);
    let o = 0;
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] === LF && !(i === 0 ? previousWasCr : chunk[i - 1] === CR)) {
        o += input.copy(out, o, from, i);
        out[o++] = CR;
        from = i;
      }
    }
    input.copy(out, o, from);
    return out;
  }
}

/**
 * Network → file: CR LF becomes LF; a CR not followed by LF is kept. Streaming: a CR at the end of
 * a chunk is held until the next chunk shows what follows it (`end` releases it).
 */
export class AsciiDecoder {
  #heldCr = false;

  push(chunk: Uint8Array): Buffer {
    const input = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    const out = Buffer.allocUnsafe(chunk.length + 1);
    let o = 0;
    let i = 0;
    if (this.#heldCr) {
      this.#heldCr = false;
      if (chunk.length === 0) {
        this.#heldCr = true;
        return Buffer.alloc(0);
      }
      if (chunk[0] !== LF) out[o++] = CR;
    }
    for (; i < input.length; i++) {
      const byte = input[i] as number;
      if (byte === CR) {
        if (i === input.length - 1) {
          this.#heldCr = true;
          continue;
        }
        if (input[i + 1] === LF) continue;
      }
      out[o++] = byte;
    }
    return out.subarray(0, o);
  }

  /** A CR the stream ended with. */
  end(): Buffer {
    if (!this.#heldCr) return Buffer.alloc(0);
    this.#heldCr = false;
    return Buffer.from([CR]);
  }
}

/** How many bytes `chunk` becomes in ASCII mode (for SIZE in TYPE A), given the previous byte. */
export function asciiExtraBytes(chunk: Uint8Array, previousWasCr: boolean): number {
  let extra = 0;
  for (let i = 0; i < chunk.length; i++) {
    if (chunk[i] === LF && !(i === 0 ? previousWasCr : chunk[i - 1] === CR)) extra++;
  }
  return extra;
}
