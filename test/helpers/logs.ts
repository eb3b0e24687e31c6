import { Writable } from 'node:stream';
import { pino } from 'pino';

export interface LogEvent {
  level: number;
  msg: string;
}

/** A pino logger whose JSON lines are kept as events, to assert what an operator would read. */
export function capturingLogger(level = 'info'): { logger: pino.Logger; events: LogEvent[] } {
  const events: LogEvent[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) events.push(JSON.parse(line) as LogEvent);
      callback();
    },
  });
  return { logger: pino({ level }, sink), events };
}
