import type { LeaveReason } from './protocol.js';
import type { MemberInfo } from './room.js';

/** Consecutive joins, or consecutive leaves for one reason, in one room. */
export interface PresenceRun {
  room: string;
  kind: 'join' | 'leave';
  reason: LeaveReason | undefined;
  members: MemberInfo[];
}

/**
 * Gathers the joins and leaves of one event-loop turn and hands them over as runs, so that a
 * thousand members arriving at once cost each member a few lines, not a thousand datagrams (the
 * seed's fan-out of every welcome to everyone is quadratic). Order is kept: a run ends where the
 * kind or reason changes, and a room's runs are flushed before any message of that room is
 * delivered, so nobody sees `bob : hi` before `欢迎 bob 进入聊天室`.
 */
export class PresenceBatcher {
  readonly #runs = new Map<string, PresenceRun[]>();
  readonly #deliver: (run: PresenceRun) => void;
  #scheduled = false;
  #stopped = false;

  constructor(deliver: (run: PresenceRun) => void) {
    this.#deliver = deliver;
  }

  add(room: string, kind: 'join' | 'leave', member: MemberInfo, reason?: LeaveReason): void {
    if (this.#stopped) return;
    let runs = this.#runs.get(room);
    if (!runs) {
      runs = [];
      this.#runs.set(room, runs);
    }
    const last = runs.at(-1);
    if (last && last.kind === kind && last.reason === reason) last.members.push(member);
    else runs.push({ room, kind, reason, members: [member] });
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.flushAll();
      });
    }
  }

  /** Deliver what is pending for `room` now (before a message of that room). */
  flushRoom(room: string): void {
    const runs = this.#runs.get(room);
    if (!runs) return;
    this.#runs.delete(room);
    for (const run of runs) this.#deliver(run);
  }

  flushAll(): void {
    for (const room of [...this.#runs.keys()]) this.flushRoom(room);
  }

  stop(): void {
    this.#stopped = true;
    this.#runs.clear();
  }
}
