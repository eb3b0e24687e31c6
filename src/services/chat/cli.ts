import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import { EXIT_INTERRUPTED, addHostOptions, port, type CliContext } from '../../cli-kit/index.js';
import { readFirstLine, readHiddenLine } from '../../cli-kit/prompt.js';
import { UsageError, WharfError } from '../../core/errors.js';
import { ChatClient, ChatError, SeedChatClient } from './client.js';
import { ADMIN_NAME, formatSeedChat, nameProblem, roomProblem, type ChatMessage, type MemberSummary } from './protocol.js';
import { ChatTerminal } from './terminal.js';

interface ClientFlags {
  host: string;
  port?: number;
  name?: string;
  room?: string;
  login?: boolean;
  passwordStdin?: boolean;
  seedProtocol?: boolean;
  localPort?: number;
}

function addClientOptions(command: Command): Command {
  return command
    .option('-H, --host <host>', 'server address', '127.0.0.1')
    .addOption(new Option('-p, --port <port>', 'server port (default 8001, or 8000 with --seed-protocol)').argParser(port))
    .option('-n, --name <name>', 'your name in the room (asked for when missing)')
    .option('-r, --room <room>', 'room to join (default: the server\'s lobby)')
    .option('--login', 'log in with the wharf account NAME (asks for its password; WHARF_PASSWORD also works)')
    .option('--password-stdin', 'with --login: read the password from the first line of standard input')
    .option('--seed-protocol', 'speak the seed\'s UDP protocol (L/C/E datagrams), e.g. to the seed\'s own Python server')
    .addOption(new Option('--local-port <port>', 'with --seed-protocol: bind this local UDP port (the seed client uses 55555)').argParser(port));
}

const HELP = [
  'commands:',
  '  /who              who is in this room',
  '  /msg NAME TEXT    a private message',
  '  /join ROOM        move to another room',
  '  /history [N]      the last N messages of this room (default 20)',
  '  /quit  (or exit, Ctrl-C, Ctrl-D)   leave the chat',
  '  anything else is said to the room; start with // to say something beginning with /',
].join('\n');

/**
 * `wharf chat`: with no verb, join the room from this terminal; `chat serve` runs the server;
 * `chat send` says one thing (for scripts).
 */
export function registerChatCli(program: Command, ctx: CliContext): void {
  const chat = program
    .command('chat')
    .description('chat room (seed protocol on UDP 8000, wharf\'s on TCP 8001); with no verb: join it from this terminal');
  addClientOptions(chat).action(async (flags: ClientFlags) => {
    const code = flags.seedProtocol ? await interactiveSeed(flags) : await interactive(flags);
    ctx.setExitCode(code);
  });

  const serveCommand = chat
    .command('serve')
    .description('run the chat server: the seed protocol on UDP (default 8000) and wharf\'s on TCP (default 8001)')
    .option('-H, --host <host>', 'listen address (default 127.0.0.1)')
    .addOption(new Option('-p, --port <port>', 'UDP port of the seed protocol (default 8000)').argParser(port))
    .addOption(new Option('--tcp-port <port>', 'TCP port of wharf\'s protocol (default 8001)').argParser(port))
    .option('--room <room>', 'the room seed clients are in (default lobby)')
    .option('--console', 'read admin messages from standard input even when it is not a terminal')
    .option('--no-console', 'do not read admin messages from standard input')
    .option('--no-udp', 'no seed protocol (TCP only)')
    .option('--no-tcp', 'no wharf protocol (UDP only)')
    .option('--redis <url>', 'share the rooms with other wharf processes and machines through this Redis, e.g. redis://127.0.0.1:6379 (needed for --workers; docs/scaling.md)')
    .addOption(new Option('--member-idle <seconds>', 'drop seed members silent this long (0: never; default 1800)').argParser(Number));
  addHostOptions(serveCommand).action(async (flags: Record<string, unknown>, command: Command) => {
    await ctx.serve(['chat'], command, {
      chat: {
        host: flags.host,
        port: flags.port,
        tcpPort: flags.tcpPort,
        room: flags.room,
        console: flags.console === true ? 'on' : flags.console === false ? 'off' : undefined,
        udp: flags.udp === false ? false : undefined,
        tcp: flags.tcp === false ? false : undefined,
        memberIdleMs: typeof flags.memberIdle === 'number' && Number.isFinite(flags.memberIdle) ? Math.round(flags.memberIdle * 1000) : undefined,
      },
    });
  });

  addClientOptions(chat.command('send').description('say TEXT in the room once, without a join or a leave (for scripts)').argument('<text...>', 'what to say')).action(
    async (words: string[], flags: ClientFlags) => {
      const text = words.join(' ');
      if (flags.name === undefined) throw new UsageError('chat send needs --name');
      checkName(flags.name);
      if (flags.seedProtocol) {
        const client = await SeedChatClient.connect({ host: flags.host, port: flags.port ?? 8000, ...(flags.localPort !== undefined ? { localPort: flags.localPort } : {}) });
        try {
          if (!(await client.login(flags.name))) throw new WharfError('ENAME', `the server refused the name ${flags.name} (taken, or not allowed)`);
          await client.say(text);
        } finally {
          await client.close();
        }
        return;
      }
      // A post, not a join: the room is not told that a script came and went around every message.
      const client = new ChatClient({ host: flags.host, port: flags.port ?? 8001, name: flags.name, reconnect: false, ...(flags.room !== undefined ? { room: flags.room } : {}), ...(await passwordOption(flags)) });
      try {
        const posted = await client.post(text);
        process.stdout.write(`${posted.room} #${posted.seq}\n`);
      } catch (error) {
        throw explain(error);
      }
    },
  );
}

function checkName(name: string): void {
  const problem = nameProblem(name);
  if (problem) throw new UsageError(`--name: ${problem}`);
}

function explain(error: unknown): Error {
  if (error instanceof ChatError) return new WharfError(error.code, error.message);
  return error instanceof Error ? error : new Error(String(error));
}

async function passwordOption(flags: ClientFlags): Promise<{ password?: string }> {
  if (!flags.login) return {};
  if (flags.passwordStdin) return { password: await readFirstLine(process.stdin) };
  if (process.env.WHARF_PASSWORD) return { password: process.env.WHARF_PASSWORD };
  if (process.stdin.isTTY !== true) throw new UsageError('--login needs a terminal to ask for the password (or --password-stdin, or WHARF_PASSWORD)');
  return { password: await readHiddenLine(`password for ${flags.name}: `, { input: process.stdin, output: process.stderr }) };
}

/** One line from the terminal, before the chat's own prompt exists. */
function askLine(question: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY === true });
    let answered = false;
    rl.question(question, (answer) => {
      answered = true;
      rl.close();
      resolve(answer.trim());
    });
    rl.on('SIGINT', () => rl.close());
    rl.on('close', () => {
      if (!answered) resolve(undefined);
    });
  });
}

async function askName(initial: string | undefined, reason?: string): Promise<string | undefined> {
  if (initial !== undefined && reason === undefined) return initial;
  if (reason !== undefined) process.stdout.write(`${reason}\n`);
  if (process.stdin.isTTY !== true) return undefined;
  for (;;) {
    const name = await askLine('your name: ');
    if (name === undefined) return undefined;
    const problem = nameProblem(name);
    if (!problem) return name;
    process.stdout.write(`${problem}\n`);
  }
}

function clock(time: number): string {
  const date = new Date(time);
  return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
}

function formatMessage(message: ChatMessage): string {
  return `${clock(message.time)} ${message.kind === 'admin' ? ADMIN_NAME : message.from} : ${message.text}`;
}

function formatMembers(room: string, members: MemberSummary[]): string {
  const names = members.map((m) => `${m.name}${m.via === 'udp' ? ' (seed)' : m.via === 'web' ? ' (browser)' : ''}${m.account ? '*' : ''}`);
  return `* ${members.length} in ${room}: ${names.join(', ')}`;
}

/** What the chat shows: before the terminal exists (during the first catch-up), lines wait. */
class ChatOutput {
  #terminal: ChatTerminal | undefined;
  readonly #backlog: string[] = [];
  readonly show = (line: string): void => {
    if (this.#terminal) this.#terminal.print(line);
    else this.#backlog.push(line);
  };

  /** Lines to show first, before what arrived meanwhile. */
  first(...lines: string[]): void {
    this.#backlog.unshift(...lines);
  }

  get terminal(): ChatTerminal | undefined {
    return this.#terminal;
  }

  attach(terminal: ChatTerminal): void {
    this.#terminal = terminal;
    for (const line of this.#backlog.splice(0)) terminal.print(line);
  }
}

/** `wharf chat` over wharf's protocol. Resolves with the exit code. */
async function interactive(flags: ClientFlags): Promise<number> {
  if (flags.room !== undefined) {
    const problem = roomProblem(flags.room);
    if (problem) throw new UsageError(`--room: ${problem}`);
  }
  if (flags.name !== undefined) checkName(flags.name);
  const name = await askName(flags.name);
  if (name === undefined) throw new UsageError('no name given (use --name)');
  const password = await passwordOption({ ...flags, name });
  const output = new ChatOutput();
  const client = await joinAskingForName(flags, name, password, output);
  return chatUntilLeft(client, output);
}

/** Join the room; a name taken (or refused) is asked for again, unless --login insists on it. */
async function joinAskingForName(flags: ClientFlags, firstName: string, password: Awaited<ReturnType<typeof passwordOption>>, output: ChatOutput): Promise<ChatClient> {
  let name = firstName;
  for (;;) {
    const client = new ChatClient({ host: flags.host, port: flags.port ?? 8001, name, ...(flags.room !== undefined ? { room: flags.room } : {}), ...password });
    showClientEvents(client, output.show);
    try {
      const welcome = await client.connect();
      output.first(`* you are ${welcome.name}${welcome.account ? ' (logged in)' : ''} in ${welcome.room}; /help for commands`, formatMembers(welcome.room, welcome.members));
      return client;
    } catch (error) {
      if (error instanceof ChatError && (error.chatCode === 'name-taken' || error.chatCode === 'bad-name' || error.chatCode === 'name-reserved') && flags.login !== true) {
        const next = await askName(undefined, error.message);
        if (next === undefined) throw explain(error);
        name = next;
        continue;
      }
      throw explain(error);
    }
  }
}

/** Messages, presence, private messages and the connection's ups and downs, as lines. */
function showClientEvents(client: ChatClient, show: (line: string) => void): void {
  client.on('message', (message) => show(formatMessage(message)));
  client.on('presence', (event) => {
    for (const change of event.joined) if (change.name !== client.name) show(`* ${change.name} joined${change.via === 'udp' ? ' (seed client)' : change.via === 'web' ? ' (in the browser)' : ''}`);
    for (const change of event.left) {
      if (change.name === client.name) continue;
      const why = change.reason === 'expired' ? ' (silent too long)' : change.reason === 'disconnected' ? ' (connection closed)' : change.reason === 'moved' ? ' (to another room)' : '';
      show(`* ${change.name} left${why}`);
    }
  });
  client.on('private', (pm) => show(pm.from === client.name ? `${clock(pm.time)} [private] you → ${pm.to} : ${pm.text}` : `${clock(pm.time)} [private] ${pm.from} → you : ${pm.text}`));
  client.on('synced', (event) => {
    if (event.gap) show('* (older messages you missed are not shown: too many)');
  });
  client.on('problem', (error) => show(`! ${error.message}`));
  client.on('disconnected', () => show('* connection lost; reconnecting…'));
  client.on('reconnected', () => show('* reconnected'));
}

/** The terminal: each typed line said (or a /command run) until exit, Ctrl-C or the end of input. */
function chatUntilLeft(client: ChatClient, output: ChatOutput): Promise<number> {
  const { show } = output;
  return new Promise<number>((resolve) => {
    let leaving = false;
    const leave = (code: number) => {
      if (leaving) return;
      leaving = true;
      output.terminal?.close();
      client.close().finally(() => resolve(code));
    };
    // Commands are handled one after another, so answers come out in the order things were typed;
    // messages do not wait for each other (one said while the connection is down waits for it).
    let last: Promise<unknown> = Promise.resolve();
    const saying = new Set<Promise<unknown>>();
    const fail = (error: unknown) => show(`! ${error instanceof Error ? error.message : String(error)}`);
    client.on('closed', (error) => {
      if (error && !leaving) {
        show(`! ${error.message}`);
        leaving = true;
        output.terminal?.close();
        resolve(1);
      }
    });
    const terminal = new ChatTerminal(
      { input: process.stdin, output: process.stdout, prompt: `${client.name}@${client.room}> ` },
      {
        line(line) {
          const trimmed = line.trim();
          if (trimmed === '') return;
          if (trimmed === 'exit' || trimmed === '/quit' || trimmed === '/exit') return leave(0);
          if (!trimmed.startsWith('/') || trimmed.startsWith('//')) {
            const said = last.then(() => client.say(trimmed.startsWith('//') ? line.trimStart().slice(1) : line)).catch(fail);
            saying.add(said);
            void said.finally(() => saying.delete(said));
            return;
          }
          last = last.then(() => slashCommand(client, trimmed, output)).catch(fail);
        },
        // Ctrl-C: leave the room properly (the others are told), then 130 as every interrupted command.
        interrupt: () => leave(EXIT_INTERRUPTED),
        // Piped input: leave once what was typed has been said.
        end: () => void Promise.allSettled([last, ...saying]).then(() => leave(0)),
      },
    );
    output.attach(terminal);
    terminal.start();
  });
}

/** /help, /who, /msg, /join, /history. */
function slashCommand(client: ChatClient, trimmed: string, output: ChatOutput): Promise<unknown> | undefined {
  const { show } = output;
  const [verb, ...rest] = trimmed.split(/\s+/);
  switch (verb) {
    case '/help':
      show(HELP);
      return undefined;
    case '/who':
      return client.who().then((members) => show(formatMembers(client.room, members)));
    case '/msg': {
      const [to, ...words] = rest;
      if (to === undefined || words.length === 0) {
        show('usage: /msg NAME TEXT');
        return undefined;
      }
      const text = trimmed.slice(trimmed.indexOf(to) + to.length).trimStart();
      return client.pm(to, text);
    }
    case '/join': {
      const room = rest[0];
      if (room === undefined) {
        show('usage: /join ROOM');
        return undefined;
      }
      const problem = roomProblem(room);
      if (problem) {
        show(problem);
        return undefined;
      }
      return client.join(room).then((joined) => {
        show(formatMembers(joined.room, joined.members));
        output.terminal?.setPrompt(`${client.name}@${joined.room}> `);
      });
    }
    case '/history': {
      const count = rest[0] === undefined ? 20 : Number(rest[0]);
      if (!Number.isInteger(count) || count < 1) {
        show('usage: /history [N]');
        return undefined;
      }
      return client.history(count).then((page) => {
        show(`--- ${page.messages.length} message${page.messages.length === 1 ? '' : 's'} of ${client.room} ---`);
        for (const message of page.messages) show(formatMessage(message));
        show('---');
      });
    }
    default:
      show(`unknown command ${verb}; /help lists them`);
      return undefined;
  }
}

/** `wharf chat --seed-protocol`: the seed's UDP protocol, with a terminal that does not garble. */
async function interactiveSeed(flags: ClientFlags): Promise<number> {
  if (flags.login) throw new UsageError('--login needs wharf\'s protocol (the seed protocol has no passwords)');
  if (flags.room !== undefined) throw new UsageError('--room needs wharf\'s protocol (the seed protocol has one room)');
  const client = await SeedChatClient.connect({ host: flags.host, port: flags.port ?? 8000, ...(flags.localPort !== undefined ? { localPort: flags.localPort } : {}) });
  const backlog: string[] = [];
  let terminal: ChatTerminal | undefined;
  const show = (line: string) => (terminal ? terminal.print(line) : backlog.push(line));
  client.on('line', (line) => show(line));
  let name = await askName(flags.name);
  for (;;) {
    if (name === undefined) {
      await client.close();
      throw new UsageError('no name given (use --name)');
    }
    let ok: boolean;
    try {
      ok = await client.login(name);
    } catch (error) {
      await client.close();
      throw error;
    }
    if (ok) break;
    name = await askName(undefined, `the server refused the name ${name} (taken, or not allowed)`);
  }
  const me = name;
  return new Promise<number>((resolve) => {
    let leaving = false;
    const leave = (code = 0) => {
      if (leaving) return;
      leaving = true;
      terminal?.close();
      client.close().finally(() => resolve(code));
    };
    let last: Promise<unknown> = Promise.resolve();
    terminal = new ChatTerminal(
      { input: process.stdin, output: process.stdout, prompt: `${me}> ` },
      {
        line(line) {
          const trimmed = line.trim();
          if (trimmed === '') return;
          if (trimmed === 'exit' || trimmed === '/quit' || trimmed === '/exit') return leave();
          if (trimmed.startsWith('/') && !trimmed.startsWith('//')) {
            show('the seed protocol has no commands: type a message, or exit to leave');
            return;
          }
          const text = trimmed.startsWith('//') ? line.trimStart().slice(1) : line;
          // The seed's server does not echo a message to its sender: show it here.
          show(formatSeedChat(me, text));
          last = last.then(() => client.say(text)).catch((error: unknown) => show(`! ${error instanceof Error ? error.message : String(error)}`));
        },
        interrupt: () => leave(EXIT_INTERRUPTED),
        end: () => void last.then(() => leave()),
      },
    );
    show(`* you are ${me} in the room (seed protocol, ${flags.host}:${flags.port ?? 8000}); type exit to leave`);
    for (const line of backlog.splice(0)) terminal.print(line);
    terminal.start();
  });
}
