/**
 * The chat's page in the portal (browser code): the room's messages (said politely to screen
 * readers), a line to type in (Enter sends; `/msg NAME text` and `/join ROOM` as in `wharf chat`),
 * who is here (click a name for a private message), the rooms (switch, or make one by naming it),
 * and a connection indicator that reconnects by itself, with backoff, and catches up: the page
 * remembers the last message number it has of each room and asks for what came after, so no
 * message is lost or shown twice. Names and texts are only ever text (portal-kit `h()`), never HTML.
 */
import { h, replaceChildren, type PageContext, type PortalPage, adoptStyles } from '../../../../portal-kit/index.js';
import { CLOSE_REPLACED, RoomLog, parseTypedLine, reconnectDelayMs, utf8Length, type PortalChatMessage, type PortalMember, type PortalPresenceChange, type PortalServerMessage } from '../messages.js';

const CSS = `
.chat{display:grid;grid-template-columns:12rem minmax(0,1fr) 12rem;grid-template-areas:"bar bar bar" "rooms log members" "rooms form members";grid-template-rows:auto minmax(0,1fr) auto;gap:.5rem;height:calc(100vh - 8rem);min-height:20rem}
.chat-bar{grid-area:bar;display:flex;flex-wrap:wrap;align-items:baseline;gap:.5rem 1rem}
.chat-bar h1{margin:0;font-size:1.2rem;overflow-wrap:anywhere}
.chat-status{font-size:.9rem}
.chat-status[data-state=open]{color:#1a7f37}.chat-status[data-state=closed],.chat-status[data-state=replaced]{color:#b35900}
.chat-rooms{grid-area:rooms;overflow:auto}.chat-members{grid-area:members;overflow:auto}
.chat-rooms ul,.chat-members ul{list-style:none;margin:0;padding:0}
.chat-rooms li button,.chat-members li button{background:none;border:0;padding:.35rem .25rem;font:inherit;color:inherit;cursor:pointer;text-align:left;width:100%;overflow-wrap:anywhere;min-height:2.75rem}
.chat-rooms li button[aria-current=true]{font-weight:bold}
.chat-rooms form{display:flex;gap:.25rem;margin-top:.5rem}.chat-rooms input{min-width:0;flex:1}
.chat-log-wrap{grid-area:log;display:flex;flex-direction:column;min-height:0;border:1px solid #8884;border-radius:4px}
.chat-log{flex:1;list-style:none;margin:0;padding:.5rem;overflow-y:auto}
.chat-log li{padding:.15rem 0;overflow-wrap:anywhere;white-space:pre-wrap}
.chat-log time{color:#666;font-size:.8rem;margin-right:.4rem}
.chat-log .chat-from{font-weight:bold;margin-right:.4rem}
.chat-log .chat-note{color:#666;font-style:italic}.chat-log .chat-pm{background:#fff3c4;color:#000}
.chat-log .chat-admin{color:#a40000}
.chat-form{grid-area:form;display:flex;gap:.5rem}.chat-form input{flex:1;min-width:0;font:inherit;padding:.5rem}
.chat-form button{font:inherit;padding:.5rem 1rem}
.chat [hidden]{display:none!important}
.chat-rooms summary,.chat-members summary{font-weight:bold;font-size:1.05rem;padding:.5rem 0;cursor:pointer}
.chat-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.chat-older{margin:.25rem auto;display:block}
@media (max-width:700px){.chat{grid-template-columns:minmax(0,1fr);grid-template-areas:"bar" "rooms" "members" "log" "form";grid-template-rows:auto auto auto minmax(10rem,1fr) auto;gap:.25rem;min-height:24rem}
.chat-rooms ul,.chat-members ul{display:flex;flex-wrap:wrap;gap:0 .5rem}.chat-rooms li button,.chat-members li button{width:auto}}
`;

/** Private messages, presence and notices kept per page (they have no number in a room). */
interface Note {
  time: number;
  /** Shown in this room only; undefined: in every room (private messages, notices). */
  room: string | undefined;
  build(): HTMLLIElement;
}

const MAX_NOTES = 200;

type Connection = 'connecting' | 'open' | 'closed' | 'replaced';

class ChatView {
  readonly #ctx: PageContext;
  readonly #t: PageContext['t'];
  readonly #title = h('h1', {});
  readonly #status = h('span', { class: 'chat-status', role: 'status', 'data-state': 'connecting' });
  readonly #retry: HTMLButtonElement;
  readonly #log = h('ol', { class: 'chat-log', 'aria-live': 'polite', 'aria-relevant': 'additions', tabindex: '0' });
  readonly #older: HTMLButtonElement;
  readonly #roomList = h('ul', {});
  readonly #memberList = h('ul', {});
  readonly #memberHeading = h('summary', {});
  readonly #input: HTMLInputElement;
  readonly #roomInput: HTMLInputElement;
  readonly #logs = new Map<string, RoomLog>();
  readonly #notes: Note[] = [];
  readonly #members = new Map<string, PortalMember>();
  /** Said and not yet seen back (by cid): sent again after a reconnect unless the catch-up has it. */
  readonly #unconfirmed = new Map<string, string>();
  /** The cid of each `say` by its request id: one the server refuses is not said again. */
  readonly #sayIds = new Map<number, string>();
  #nextId = 1;
  #ws: WebSocket | undefined;
  #state: Connection = 'connecting';
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #roomsTimer: ReturnType<typeof setInterval> | undefined;
  #me = '';
  #room = '';
  #maxTextBytes = 4096;
  #synced = false;
  /** A new connection: what was said and not seen back is said again once it has caught up. */
  #resend = false;
  /** The connection was lost (or taken by another tab) since it was last open. */
  #wasDown = false;
  #times: Intl.DateTimeFormat;

  constructor(ctx: PageContext) {
    this.#ctx = ctx;
    this.#t = ctx.t;
    const t = this.#t;
    this.#times = new Intl.DateTimeFormat(ctx.lang === 'zh' ? 'zh-CN' : undefined, { hour: '2-digit', minute: '2-digit' });
    this.#retry = h('button', { type: 'button', hidden: true, onclick: () => this.#connectNow() }, t('Reconnect now', '立即重新连接'));
    this.#older = h('button', { type: 'button', class: 'chat-older', hidden: true, onclick: () => this.#loadOlder() }, t('Load older messages', '加载更早的消息'));
    this.#input = h('input', { type: 'text', id: 'chat-input', autocomplete: 'off', enterkeyhint: 'send', placeholder: t('Message (/msg NAME text for a private one)', '消息（/msg 名字 内容 发私聊）') });
    this.#roomInput = h('input', { type: 'text', id: 'chat-room-name', autocomplete: 'off', placeholder: t('Room name', '聊天室名称') });
  }

  mount(root: HTMLElement): void {
    const t = this.#t;
    // On a phone the rooms and the members start folded, so the messages get the screen.
    const wide = !window.matchMedia('(max-width: 700px)').matches;
    const form = h('form', { class: 'chat-form', onsubmit: (event: Event) => this.#submit(event) }, h('label', { for: 'chat-input', class: 'chat-hidden' }, t('Message', '消息')), this.#input, h('button', { type: 'submit' }, t('Send', '发送')));
    const roomForm = h(
      'form',
      { onsubmit: (event: Event) => this.#submitRoom(event) },
      h('label', { for: 'chat-room-name', class: 'chat-hidden' }, t('Join or create a room', '进入或新建聊天室')),
      this.#roomInput,
      h('button', { type: 'submit' }, t('Join', '进入')),
    );
    root.append(
      h(
        'div',
        { class: 'chat' },
        h('div', { class: 'chat-bar' }, this.#title, this.#status, this.#retry),
        h('nav', { class: 'chat-rooms', 'aria-label': t('Rooms', '聊天室') }, h('details', { open: wide }, h('summary', {}, t('Rooms', '聊天室')), this.#roomList, roomForm)),
        h('div', { class: 'chat-log-wrap' }, this.#older, this.#log),
        form,
        h('aside', { class: 'chat-members', 'aria-label': t('Members', '成员') }, h('details', { open: wide }, this.#memberHeading, this.#memberList)),
      ),
    );
    this.#title.textContent = t('Chat', '聊天室');
    this.#renderMembers();
    this.#connect();
    const online = () => {
      if (this.#state === 'closed') this.#connectNow();
    };
    window.addEventListener('online', online);
    this.#ctx.signal.addEventListener('abort', () => {
      window.removeEventListener('online', online);
      clearTimeout(this.#timer);
      clearInterval(this.#roomsTimer);
      this.#ws?.close(1000, 'left the page');
    });
  }

  // -- the connection ---------------------------------------------------------------------------

  #connect(): void {
    if (this.#ctx.signal.aborted) return;
    clearTimeout(this.#timer);
    this.#setState('connecting');
    this.#synced = false;
    this.#resend = true;
    const ws = new WebSocket(this.#ctx.api.webSocketUrl('/socket'));
    this.#ws = ws;
    ws.onmessage = (event) => {
      if (this.#ws !== ws || typeof event.data !== 'string') return;
      let message: PortalServerMessage;
      try {
        message = JSON.parse(event.data) as PortalServerMessage;
      } catch {
        return;
      }
      this.#received(message);
    };
    ws.onclose = (event) => {
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      if (event.code === CLOSE_REPLACED) return this.#setState('replaced');
      this.#scheduleReconnect();
    };
  }

  #connectNow(): void {
    this.#attempt = 0;
    this.#connect();
  }

  #scheduleReconnect(): void {
    if (this.#ctx.signal.aborted) return;
    const delay = reconnectDelayMs(this.#attempt++);
    this.#setState('closed', Math.ceil(delay / 1000));
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  #setState(state: Connection, seconds = 0): void {
    const t = this.#t;
    this.#state = state;
    this.#status.dataset.state = state;
    this.#retry.hidden = state !== 'closed' && state !== 'replaced';
    this.#retry.textContent = state === 'replaced' ? t('Use the chat here', '在这里使用聊天室') : t('Reconnect now', '立即重新连接');
    const text = {
      connecting: t('Connecting…', '正在连接…'),
      open: t('Connected', '已连接'),
      closed: t(`Disconnected; reconnecting in ${seconds} s`, `连接已断开，${seconds} 秒后重新连接`),
      replaced: t('The chat is open in another tab or window', '聊天室已在另一个标签页或窗口中打开'),
    }[state];
    this.#status.textContent = text;
    // The first "Connected" goes without saying; a drop and the way back are said.
    if (state === 'closed' || state === 'replaced' || (state === 'open' && this.#wasDown)) this.#ctx.announce(text);
    if (state === 'open') this.#wasDown = false;
    else if (state !== 'connecting') this.#wasDown = true;
    clearInterval(this.#roomsTimer);
    if (state === 'open') this.#roomsTimer = setInterval(() => this.#send({ type: 'rooms' }), 30_000);
  }

  #send(message: Record<string, unknown>): boolean {
    const ws = this.#ws;
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(message));
    return true;
  }

  // -- what the server says ---------------------------------------------------------------------

  #received(message: PortalServerMessage): void {
    switch (message.type) {
      case 'hello':
        this.#me = message.name;
        this.#maxTextBytes = message.maxTextBytes;
        if (this.#room === '') this.#room = message.room;
        this.#send({ type: 'join', room: this.#room, ...(this.#logOf(this.#room).last !== undefined ? { since: this.#logOf(this.#room).last } : {}) });
        return;
      case 'joined':
        return this.#joined(message.room, message.members);
      case 'msg':
        return this.#message(message);
      case 'synced':
        return this.#syncedRoom(message.room, message.lastSeq, message.gap);
      case 'presence':
        return this.#presence(message.room, message.joined, message.left);
      case 'pm':
        return this.#privateMessage(message.from, message.to, message.text, message.time);
      case 'members':
        if (message.room !== this.#room) return;
        this.#members.clear();
        for (const member of message.members) this.#members.set(member.name, member);
        return this.#renderMembers();
      case 'rooms':
        return this.#renderRooms(message.rooms);
      case 'history':
        for (const item of message.messages) this.#logOf(message.room).add(item);
        if (message.room === this.#room) this.#renderLog();
        return;
      case 'replaced':
        return;
      case 'error':
        if (message.id !== undefined) {
          const cid = this.#sayIds.get(message.id);
          if (cid !== undefined) this.#confirm(cid);
        }
        return this.#note(undefined, this.#t(`Error: ${message.message}`, `错误：${message.message}`), 'chat-note');
      default:
    }
  }

  #logOf(room: string): RoomLog {
    let log = this.#logs.get(room);
    if (!log) {
      log = new RoomLog();
      this.#logs.set(room, log);
    }
    return log;
  }

  #joined(room: string, members: PortalMember[]): void {
    const changed = room !== this.#room || this.#log.childElementCount === 0;
    this.#room = room;
    this.#title.textContent = `${this.#t('Chat', '聊天室')} · ${room}`;
    this.#members.clear();
    for (const member of members) this.#members.set(member.name, member);
    this.#renderMembers();
    this.#log.setAttribute('aria-busy', 'true');
    if (changed) this.#renderLog();
    this.#send({ type: 'rooms' });
  }

  #syncedRoom(room: string, lastSeq: number, gap: boolean): void {
    this.#logOf(room).known(lastSeq);
    this.#log.removeAttribute('aria-busy');
    if (gap) this.#note(room, this.#t('Some older messages were missed while you were away.', '离开期间有些较早的消息没有收到。'), 'chat-note');
    this.#synced = true;
    this.#attempt = 0;
    this.#setState('open');
    // What was said and never seen back is said again (the catch-up would have shown it).
    if (this.#resend) for (const [cid, text] of this.#unconfirmed) this.#say(text, cid);
    this.#resend = false;
  }

  #message(message: PortalChatMessage): void {
    if (message.cid !== undefined && message.from === this.#me) this.#confirm(message.cid);
    const log = this.#logOf(message.room);
    const index = log.add(message);
    if (index < 0 || message.room !== this.#room) return;
    if (index === log.messages.length - 1) this.#appendItem(this.#messageItem(message));
    else this.#renderLog();
  }

  #presence(room: string, joined: PortalPresenceChange[], left: PortalPresenceChange[]): void {
    if (room !== this.#room) return;
    const t = this.#t;
    for (const member of joined) this.#members.set(member.name, member);
    joined = joined.filter((m) => m.name !== this.#me);
    for (const member of left) if (member.name !== this.#me) this.#members.delete(member.name);
    this.#renderMembers();
    const names = (list: PortalPresenceChange[]) => list.map((m) => m.name).join(t(', ', '、'));
    if (joined.length > 0) this.#note(room, t(`${names(joined)} joined`, `${names(joined)} 进入了聊天室`), 'chat-note');
    if (left.length > 0) this.#note(room, t(`${names(left)} left`, `${names(left)} 离开了聊天室`), 'chat-note');
  }

  #privateMessage(from: string, to: string, text: string, time: number): void {
    const t = this.#t;
    const label = from === this.#me ? t(`to ${to} (private)`, `发给 ${to}（私聊）`) : t(`${from} (private)`, `${from}（私聊）`);
    const note: Note = { time, room: undefined, build: () => h('li', { class: 'chat-pm' }, this.#time(time), h('span', { class: 'chat-from' }, label), text) };
    this.#keepNote(note);
  }

  // -- rendering --------------------------------------------------------------------------------

  #time(time: number): HTMLTimeElement {
    return h('time', { datetime: new Date(time).toISOString() }, this.#times.format(time));
  }

  #messageItem(message: PortalChatMessage): HTMLLIElement {
    const admin = message.kind === 'admin';
    return h('li', { class: admin ? 'chat-admin' : undefined, 'data-seq': message.seq }, this.#time(message.time), h('span', { class: 'chat-from' }, admin ? this.#t('Notice', '管理员消息') : message.from), message.text);
  }

  #note(room: string | undefined, text: string, className: string): void {
    const time = Date.now();
    this.#keepNote({ time, room, build: () => h('li', { class: className }, this.#time(time), text) });
  }

  #keepNote(note: Note): void {
    this.#notes.push(note);
    if (this.#notes.length > MAX_NOTES) this.#notes.splice(0, this.#notes.length - MAX_NOTES);
    if (note.room === undefined || note.room === this.#room) this.#appendItem(note.build());
  }

  #appendItem(item: HTMLLIElement): void {
    const list = this.#log;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(item);
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  /** The whole list: the room's messages and the page's notes, by time. */
  #renderLog(): void {
    const log = this.#logOf(this.#room);
    const notes = this.#notes.filter((n) => n.room === undefined || n.room === this.#room);
    const items: HTMLLIElement[] = [];
    let n = 0;
    for (const message of log.messages) {
      while (n < notes.length && notes[n]!.time < message.time) items.push(notes[n++]!.build());
      items.push(this.#messageItem(message));
    }
    while (n < notes.length) items.push(notes[n++]!.build());
    replaceChildren(this.#log, items);
    this.#log.scrollTop = this.#log.scrollHeight;
    const first = log.messages[0];
    this.#older.hidden = first === undefined || first.seq <= 1;
  }

  #renderMembers(): void {
    const t = this.#t;
    const members = [...this.#members.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.#memberHeading.textContent = t(`Members (${members.length})`, `成员（${members.length}）`);
    const via = (m: PortalMember) => (m.via === 'udp' ? t(' · seed client', ' · 种子客户端') : m.via === 'tcp' ? t(' · terminal', ' · 终端') : '');
    replaceChildren(
      this.#memberList,
      members.map((m) =>
        m.name === this.#me
          ? h('li', {}, h('button', { type: 'button', disabled: true }, t(`${m.name} (you)`, `${m.name}（你）`)))
          : h('li', {}, h('button', { type: 'button', title: t(`Private message to ${m.name}`, `给 ${m.name} 发私聊`), onclick: () => this.#privateTo(m.name) }, m.name, h('small', {}, via(m)))),
      ),
    );
  }

  #renderRooms(rooms: Array<{ name: string; members: number }>): void {
    if (!rooms.some((r) => r.name === this.#room) && this.#room !== '') rooms = [...rooms, { name: this.#room, members: 0 }];
    replaceChildren(
      this.#roomList,
      rooms.map((room) => h('li', {}, h('button', { type: 'button', 'aria-current': room.name === this.#room ? 'true' : undefined, onclick: () => this.#join(room.name) }, `${room.name} (${room.members})`))),
    );
  }

  // -- what the person does ---------------------------------------------------------------------

  #privateTo(name: string): void {
    this.#input.value = `/msg ${name} `;
    this.#input.focus();
  }

  #join(room: string): void {
    if (room === this.#room && this.#synced) return;
    const since = this.#logs.get(room)?.last;
    this.#room = room;
    this.#renderLog();
    this.#send({ type: 'join', room, ...(since !== undefined ? { since } : {}) });
  }

  #submitRoom(event: Event): void {
    event.preventDefault();
    const room = this.#roomInput.value.trim();
    if (room === '') return;
    this.#roomInput.value = '';
    this.#join(room);
  }

  #submit(event: Event): void {
    event.preventDefault();
    const t = this.#t;
    const line = parseTypedLine(this.#input.value);
    if (line.kind === 'empty') return;
    if (line.kind === 'help') return this.#note(undefined, t('Type to talk; /msg NAME text: a private message; /join ROOM: another room; //text says /text.', '直接输入即可发言；/msg 名字 内容：私聊；/join 聊天室：换聊天室；//text 发送 /text。'), 'chat-note');
    if (line.kind === 'unknown') return this.#note(undefined, t(`Unknown command ${line.command}; /help lists them.`, `未知命令 ${line.command}；输入 /help 查看。`), 'chat-note');
    if (line.kind === 'join') {
      this.#input.value = '';
      return this.#join(line.room);
    }
    if (utf8Length(line.text) > this.#maxTextBytes) return this.#note(undefined, t(`The message is too long (at most ${this.#maxTextBytes} bytes).`, `消息太长（最多 ${this.#maxTextBytes} 字节）。`), 'chat-note');
    if (line.kind === 'pm') {
      if (!this.#send({ type: 'pm', to: line.to, text: line.text })) return this.#note(undefined, t('Not connected: the private message was not sent.', '未连接：私聊没有发出。'), 'chat-note');
    } else {
      const cid = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
      this.#unconfirmed.set(cid, line.text);
      // Not connected: sent when the connection is back (see #syncedRoom).
      if (this.#synced) this.#say(line.text, cid);
      else this.#note(undefined, t('Not connected: the message will be sent when the connection is back.', '未连接：连接恢复后会发出这条消息。'), 'chat-note');
    }
    this.#input.value = '';
  }

  #say(text: string, cid: string): void {
    const id = this.#nextId++;
    this.#sayIds.set(id, cid);
    this.#send({ type: 'say', id, text, cid });
  }

  #confirm(cid: string): void {
    this.#unconfirmed.delete(cid);
    for (const [id, pending] of this.#sayIds) if (pending === cid) this.#sayIds.delete(id);
  }

  #loadOlder(): void {
    const first = this.#logOf(this.#room).messages[0];
    if (first !== undefined) this.#send({ type: 'history', before: first.seq, limit: 50 });
  }
}

const page: PortalPage = {
  mount(root: HTMLElement, ctx: PageContext): void {
    adoptStyles(CSS, ctx.signal);
    new ChatView(ctx).mount(root);
  },
};

export default page;
