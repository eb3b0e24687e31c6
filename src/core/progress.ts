/**
 * Sizes a person reads (`1.2 MiB`) and one transfer progress bar, shared by every client that
 * moves files (`wharf ftp`, `wharf tftp`), so that both show the same bar and the same units.
 */
import cliProgress from 'cli-progress';
import { formatBytes, formatDuration } from './human-size.js';

export { formatBytes, formatDuration };

export interface ProgressStream extends NodeJS.WritableStream {
  isTTY?: boolean;
}

export interface TransferProgressOptions {
  /** Where the bar and the summary go (stderr, so stdout stays clean for what a command prints). */
  stream: ProgressStream;
  /** `get boot.img`, `put fw.bin`: names the remote file. */
  label: string;
  /** The whole file's size, when known. */
  total: number | undefined;
  /** Bytes already there before this transfer (a resume). */
  offset?: number;
  /** False: no bar, no summary (`--quiet`). */
  enabled: boolean;
  /** Draw a bar only on a terminal (default); the summary line is printed either way. */
  summaryWhenPiped?: boolean;
}

/**
 * A bar on a terminal: `get fw.bin [=====-----] 48% | 2.4 MiB / 5.0 MiB | 1.1 MiB/s | ETA 00:02`,
 * and one summary line at the end: `get fw.bin: 5.0 MiB in 4.5 s, 1.1 MiB/s`.
 */
export class TransferProgress {
  readonly #options: TransferProgressOptions;
  readonly #bar: cliProgress.SingleBar | undefined;
  readonly #start = Date.now();
  readonly #offset: number;
  #done: number;
  #total: number | undefined;

  constructor(options: TransferProgressOptions) {
    this.#options = options;
    this.#offset = options.offset ?? 0;
    this.#done = this.#offset;
    this.#total = options.total;
    if (options.enabled && options.stream.isTTY === true) {
      this.#bar = new cliProgress.SingleBar(
        {
          stream: options.stream as never,
          format: `${options.label} [{bar}] {percentage}% | {done} / {size} | {rate} | ETA {eta_h}`,
          barsize: 30,
          hideCursor: true,
          clearOnComplete: true,
          fps: 10,
        },
        cliProgress.Presets.shades_classic,
      );
      this.#bar.start(options.total ?? 0, this.#offset, this.#payload());
    }
  }

  #payload(): Record<string, string> {
    const seconds = (Date.now() - this.#start) / 1000;
    const rate = seconds > 0 ? (this.#done - this.#offset) / seconds : 0;
    const total = this.#total ?? 0;
    return {
      done: formatBytes(this.#done),
      size: total > 0 ? formatBytes(total) : '?',
      rate: `${formatBytes(rate)}/s`,
      eta_h: total > 0 && rate > 0 ? formatDuration((total - this.#done) / rate) : '--:--',
    };
  }

  /** Bytes moved by this transfer so far (not counting the offset); the total when it became known. */
  update(bytesThisTransfer: number, total?: number): void {
    this.#done = this.#offset + bytesThisTransfer;
    if (total !== undefined && total !== this.#total) {
      this.#total = total;
      this.#bar?.setTotal(total);
    }
    this.#bar?.update(this.#done, this.#payload());
  }

  /** Bytes moved by this transfer. */
  get moved(): number {
    return this.#done - this.#offset;
  }

  /** Remove the bar; with `ok`, print the summary line (`extra` is appended to it). */
  finish(ok: boolean, extra = ''): void {
    if (this.#bar) {
      this.#bar.stop();
      // cli-progress leaves a bar that did not reach 100% on screen: clear it for the message that follows.
      if (!ok) this.#options.stream.write('\r\x1b[2K');
    }
    if (!ok || !this.#options.enabled) return;
    if (this.#options.summaryWhenPiped === false && this.#options.stream.isTTY !== true) return;
    const seconds = Math.max(0.001, (Date.now() - this.#start) / 1000);
    const resumed = this.#offset > 0 ? ` (resumed at ${formatBytes(this.#offset)})` : '';
    this.#options.stream.write(`${this.#options.label}: ${formatBytes(this.moved)} in ${seconds.toFixed(1)} s, ${formatBytes(this.moved / seconds)}/s${resumed}${extra}\n`);
  }
}
