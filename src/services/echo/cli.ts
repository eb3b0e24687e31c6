import { createInterface } from 'node:readline';
import type { Command} from 'commander';
import { Option } from 'commander';
import { addHostOptions, exitInterrupted, port, type CliContext } from '../../cli-kit/index.js';
import { EchoClient, echoOverUdp } from './client.js';

interface ClientFlags {
  host: string;
  port: number;
  udp?: boolean;
  timeout: number;
  framing: 'line' | 'raw';
  greeting?: boolean;
}

function addClientOptions(command: Command): Command {
  return command
    .option('-H, --host <host>', 'server address', '127.0.0.1')
    .addOption(new Option('-p, --port <port>', 'server port').argParser(port).default(7007))
    .option('-u, --udp', 'use UDP instead of TCP')
    .addOption(new Option('--timeout <ms>', 'how long to wait for each answer').argParser(Number).default(5_000))
    .addOption(
      new Option('--framing <framing>', 'TCP: send lines, an answer is a line; or raw, as the seeds\' clients: send the text alone, an answer is what one read brings (servers that answer ok, Thanks)')
        .choices(['line', 'raw'])
        .default('line'),
    )
    .option('--greeting', 'TCP: read and print the server\'s greeting before sending (seed 002\'s hello..., seed 003\'s Welcome...)');
}

/**
 * `wharf echo`: the seeds' clients. With no verb it reads lines from stdin and prints each
 * answer; an empty line quits (seed 000 §1–2).
 */
export function registerEchoCli(program: Command, ctx: CliContext): void {
  const echo = program
    .command('echo')
    .description('echo service (RFC 862) and its client; with no verb: send each typed line, print the answer, empty line quits');
  addClientOptions(echo).action(async (flags: ClientFlags) => {
    await interactive(flags);
  });

  const serveCommand = echo
    .command('serve')
    .description('run the echo server (TCP and UDP, default port 7007)')
    .option('-H, --host <host>', 'listen address (default 127.0.0.1)')
    .addOption(new Option('-p, --port <port>', 'listen port, TCP and UDP (default 7007)').argParser(port))
    .option('--reply <text>', 'answer every message with TEXT (the seeds\' "Thanks" server)')
    .option('--prefix <text>', 'answer every message with TEXT + the message (the seed\'s "收到！")')
    .addOption(new Option('--framing <framing>', 'what is one TCP message in the reply modes: each chunk (raw, as the seeds) or each line').choices(['raw', 'line']))
    .option('--greeting <text>', 'send TEXT to each TCP client as it connects (seed 002\'s "hello...", seed 003\'s "Welcome to the server...")')
    .option('--once', 'answer one message per TCP connection, then close (seed 000 §2)')
    .addOption(new Option('--print [style]', 'show each message and its sender: from (From (\'127.0.0.1\', 5000) : text) or ctime (【ctime】ip:text)').choices(['from', 'ctime']).preset('from'))
    .option('--reply-from-console', 'show each message here and send the line you type as its answer (seed 001\'s 响应数据 >>>)')
    .option('--no-tcp', 'UDP only')
    .option('--no-udp', 'TCP only')
    .addOption(new Option('--model <model>', 'event-loop (default) or fork: one process per TCP connection').choices(['event-loop', 'fork']));
  addHostOptions(serveCommand).action(async (flags: Record<string, unknown>, command: Command) => {
    await ctx.serve(['echo'], command, {
      echo: {
        host: flags.host,
        port: flags.port,
        reply: flags.reply,
        prefix: flags.prefix,
        framing: flags.framing,
        greeting: flags.greeting,
        once: flags.once === true ? true : undefined,
        print: flags.print,
        replyFromConsole: flags.replyFromConsole === true ? true : undefined,
        // commander sets these to true unless --no-… was given; only pass the explicit "off".
        tcp: flags.tcp === false ? false : undefined,
        udp: flags.udp === false ? false : undefined,
        model: flags.model,
      },
    });
  });

  addClientOptions(echo.command('send').description('send TEXT once and print the answer').argument('<text...>', 'what to send')).action(
    async (words: string[], flags: ClientFlags) => {
      const text = words.join(' ');
      const answer = await ask(flags, text);
      process.stdout.write(`${answer}\n`);
    },
  );
}

async function ask(flags: ClientFlags, text: string, client?: EchoClient): Promise<string> {
  if (flags.udp) return (await echoOverUdp(text, { host: flags.host, port: flags.port, timeoutMs: flags.timeout })).replace(/\r?\n$/, '');
  const own = client ?? (await connectTcp(flags));
  try {
    return await own.send(text);
  } finally {
    if (!client) await own.close();
  }
}

/** A TCP client; with --greeting the server's greeting is read and printed first. */
async function connectTcp(flags: ClientFlags): Promise<EchoClient> {
  const client = await EchoClient.connect({ host: flags.host, port: flags.port, timeoutMs: flags.timeout, framing: flags.framing });
  if (flags.greeting) {
    try {
      process.stdout.write(`${(await client.receive()).replace(/\r?\n$/, '')}\n`);
    } catch (error) {
      client.close();
      throw error;
    }
  }
  return client;
}

async function interactive(flags: ClientFlags): Promise<void> {
  const tty = process.stdin.isTTY === true;
  const client = flags.udp ? undefined : await connectTcp(flags);
  const lines = createInterface({ input: process.stdin, output: tty ? process.stdout : undefined, terminal: tty });
  // On a terminal readline takes Ctrl-C itself (no SIGINT reaches the process): end as it would.
  lines.on('SIGINT', exitInterrupted);
  try {
    if (tty) lines.setPrompt('>> ');
    if (tty) lines.prompt();
    for await (const line of lines) {
      if (line === '') break;
      const answer = await ask(flags, line, client);
      process.stdout.write(`${tty ? 'From server: ' : ''}${answer}\n`);
      if (tty) lines.prompt();
    }
  } finally {
    lines.close();
    await client?.close();
  }
}
