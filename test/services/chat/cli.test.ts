import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { WHARF_BIN, runWharf, tempDataDir } from '../../helpers/cli.js';
import { TmuxShell, waitFor } from '../../helpers/tmux.js';
import { skipReason } from '../../helpers/tools.js';
import { SeedPeer, sleep, startTestChat, stopAllChats } from './support.js';

const noBuild = existsSync(WHARF_BIN) ? undefined : `${WHARF_BIN} is missing (npm run build)`;
afterEach(() => stopAllChats());

describe.skipIf(noBuild)(`wharf chat (the command)${noBuild ? ` (skipped: ${noBuild})` : ''}`, () => {
  it('in a pipe: says each line, answers commands in order, and leaves at the end of input', async () => {
    const { tcp, udp } = await startTestChat();
    const seed = await SeedPeer.open(udp);
    try {
      expect(await seed.login('小红')).toBe('OK');
      const result = await runWharf(['chat', '--port', String(tcp), '--name', 'bot'], { input: 'hello 你好 🌊\n/who\n/history 1\n/msg nobody x\n/msg 小红 悄悄话\n/nope\n' });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const lines = result.stdout.trimEnd().split('\n').map((line) => line.replace(/^\d\d:\d\d /, ''));
      expect(lines).toEqual([
        '* you are bot in lobby; /help for commands',
        '* 2 in lobby: bot, 小红 (seed)',
        'bot : hello 你好 🌊',
        '* 2 in lobby: bot, 小红 (seed)',
        '--- 1 message of lobby ---',
        'bot : hello 你好 🌊',
        '---',
        '! nobody called "nobody" is here',
        '[private] you → 小红 : 悄悄话',
        'unknown command /nope; /help lists them',
      ]);
      await seed.waitForLine('bot : hello 你好 🌊');
      await seed.waitForLine('bot (私聊) : 悄悄话');
      await seed.waitForLine('bot 退出了群聊');
    } finally {
      seed.close();
    }
  });

  it('send: one message, printed as ROOM #SEQ, with no join and no leave announced to the room', async () => {
    const { tcp, udp } = await startTestChat();
    const seed = await SeedPeer.open(udp);
    try {
      expect(await seed.login('小红')).toBe('OK');
      for (const text of ['build 1234 passed ✅', 'deploying']) {
        const result = await runWharf(['chat', 'send', '--port', String(tcp), '--name', 'bot', text]);
        expect(result.stderr).toBe('');
        expect(result.code).toBe(0);
        await seed.waitForLine(`bot : ${text}`);
      }
      await sleep(200);
      expect(seed.lines).toEqual(['OK', 'bot : build 1234 passed ✅', 'bot : deploying']);
      // Nobody may speak under a present member's name.
      const impostor = await runWharf(['chat', 'send', '--port', String(tcp), '--name', '小红', 'hi']);
      expect(impostor.code).toBe(1);
      expect(impostor.stderr).toContain('小红 is in the chat');
    } finally {
      seed.close();
    }
  });

  it.skipIf(skipReason('tmux') !== undefined)('in a terminal, Ctrl-C leaves the room (the others are told) and exits 130', async () => {
    const { tcp, udp } = await startTestChat();
    const seed = await SeedPeer.open(udp);
    const shell = TmuxShell.start({ WHARF_DATA: tempDataDir() });
    try {
      expect(await seed.login('小红')).toBe('OK');
      shell.type(`${process.execPath} ${WHARF_BIN} chat --port ${tcp} --name bob; echo "exit=$?"`);
      await waitFor(() => (shell.screen().includes('bob@lobby>') ? true : undefined), 'the chat prompt');
      shell.press('C-c');
      await waitFor(() => (/^exit=130$/m.test(shell.screen()) ? true : undefined), `exit=130 in:\n${shell.screen()}`);
      await seed.waitForLine('bob 退出了群聊');
    } finally {
      shell.close();
      seed.close();
    }
  });

  it('explains what is wrong: no name, a bad name, no server', async () => {
    const [noName, badName, noServer] = await Promise.all([
      runWharf(['chat', 'send', 'hi']),
      runWharf(['chat', 'send', '--name', '管理员', 'hi']),
      runWharf(['chat', 'send', '--port', '1', '--name', 'bot', 'hi']),
    ]);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toContain('chat send needs --name');
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain('reserved for the administrator');
    expect(noServer.code).toBe(1);
    expect(noServer.stderr).toContain('nothing is listening on 127.0.0.1:1');
  });
});
