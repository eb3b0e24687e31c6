import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { camelFromSnake, coerceLike, resolveConfig } from '../../src/cli/config.js';
import { parseSize } from '../../src/core/config.js';
import { UsageError } from '../../src/core/errors.js';
import { echoService } from '../../src/services/echo/server.js';
import type { ServiceDefinition } from '../../src/core/service.js';

const definitions = [echoService as ServiceDefinition<unknown>];

function file(content: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'wharf-config-')), 'wharf.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('configuration', () => {
  it('fills every default with no input; the data folder is $XDG_DATA_HOME/wharf, else ~/.local/share/wharf', () => {
    const { host, services } = resolveConfig(definitions, { env: { XDG_DATA_HOME: '/xdg/data' } });
    expect(host).toMatchObject({ data: '/xdg/data/wharf', workers: 1, logLevel: 'info' });
    expect(resolveConfig(definitions, { env: { HOME: '/home/ann' } }).host.data).toBe('/home/ann/.local/share/wharf');
    // The XDG spec: a relative XDG_DATA_HOME is ignored.
    expect(resolveConfig(definitions, { env: { HOME: '/home/ann', XDG_DATA_HOME: 'rel' } }).host.data).toBe('/home/ann/.local/share/wharf');
    expect(resolveConfig(definitions, { env: { HOME: '/home/ann', WHARF_DATA: '/srv/wharf' } }).host.data).toBe('/srv/wharf');
    expect(services.get('echo')).toMatchObject({ host: '127.0.0.1', port: 7007, tcp: true, udp: true, framing: 'raw' });
  });

  it('layers file < environment < flags < --set', () => {
    const path = file({ workers: 3, services: { echo: { port: 1000, reply: 'file' } } });
    const env = { WHARF_WORKERS: '4', WHARF_ECHO_PORT: '2000', WHARF_ECHO_REPLY: 'env' };
    expect(resolveConfig(definitions, { file: path }).host.workers).toBe(3);
    const withEnv = resolveConfig(definitions, { file: path, env });
    expect(withEnv.host.workers).toBe(4);
    expect(withEnv.services.get('echo')).toMatchObject({ port: 2000, reply: 'env' });
    const withFlags = resolveConfig(definitions, { file: path, env, hostFlags: { workers: 5 }, serviceFlags: { echo: { port: 3000, reply: undefined } } });
    expect(withFlags.host.workers).toBe(5);
    expect(withFlags.services.get('echo')).toMatchObject({ port: 3000, reply: 'env' });
    const withSet = resolveConfig(definitions, { file: path, env, serviceFlags: { echo: { port: 3000 } }, sets: ['echo.port=4000'] });
    expect(withSet.services.get('echo')).toMatchObject({ port: 4000 });
  });

  it('takes the Redis URL from the file, WHARF_REDIS or --redis, and refuses what is not one', () => {
    expect(resolveConfig(definitions, {}).host.redis).toBeUndefined();
    expect(resolveConfig(definitions, { file: file({ redis: 'redis://10.0.0.5:6379' }) }).host.redis).toBe('redis://10.0.0.5:6379');
    expect(resolveConfig(definitions, { env: { WHARF_REDIS: 'rediss://cache:6380/1' } }).host.redis).toBe('rediss://cache:6380/1');
    expect(resolveConfig(definitions, { env: { WHARF_REDIS: 'redis://a' }, hostFlags: { redis: 'redis://b' } }).host.redis).toBe('redis://b');
    expect(() => resolveConfig(definitions, { hostFlags: { redis: '127.0.0.1:6379' } })).toThrow(/redis: a Redis URL starts with redis:\/\/ or rediss:\/\//);
  });

  it('gives the top-level host to services that set none', () => {
    const { services } = resolveConfig(definitions, { env: { WHARF_HOST: '0.0.0.0' } });
    expect(services.get('echo')).toMatchObject({ host: '0.0.0.0' });
    const own = resolveConfig(definitions, { env: { WHARF_HOST: '0.0.0.0', WHARF_ECHO_HOST: '::1' } });
    expect(own.services.get('echo')).toMatchObject({ host: '::1' });
  });

  it('names the bad key in every error', () => {
    const cases: Array<[Parameters<typeof resolveConfig>[1], RegExp]> = [
      [{ file: file({ services: { echo: { port: 70000 } } }) }, /services\.echo\.port/],
      [{ file: file({ services: { echo: { colour: 'blue' } } }) }, /services\.echo.*colour/],
      [{ file: file({ services: { gopher: {} } }) }, /services\.gopher: no such service/],
      [{ file: file({ workers: 0 }) }, /workers/],
      [{ file: file({ wrokers: 2 }) }, /wrokers/],
      [{ file: file('{ not json') }, /not valid JSON/],
      [{ file: '/nonexistent/wharf.json' }, /cannot read config file/],
      [{ env: { WHARF_ECHO_PORT: 'seven' } }, /services\.echo\.port/],
      [{ env: { WHARF_LOG_LEVEL: 'loud' } }, /logLevel/],
      [{ sets: ['echo.port'] }, /SERVICE\.KEY=VALUE/],
      [{ sets: ['gopher.port=1'] }, /no such service gopher/],
      [{ file: file({ services: { echo: { reply: 'a', prefix: 'b' } } }) }, /services\.echo\.reply: choose one/],
    ];
    for (const [sources, message] of cases) {
      let thrown: unknown;
      try {
        resolveConfig(definitions, sources);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(sources)).toBeInstanceOf(UsageError);
      expect((thrown as Error).message).toMatch(message);
    }
  });

  it('coerces text by the type of the setting', () => {
    expect(coerceLike(1, '42')).toBe(42);
    expect(coerceLike(1, 'x')).toBe('x');
    expect(coerceLike(1, '')).toBe('');
    expect(coerceLike(true, 'off')).toBe(false);
    expect(coerceLike(false, 'yes')).toBe(true);
    expect(coerceLike(undefined, '123')).toBe('123');
    expect(camelFromSnake('MAX_LINE_BYTES')).toBe('maxLineBytes');
  });

  it('reads sizes people write', () => {
    expect(parseSize('1048576')).toBe(1048576);
    expect(parseSize('512K')).toBe(512 * 1024);
    expect(parseSize('500M')).toBe(500 * 1024 ** 2);
    expect(parseSize('1G')).toBe(1024 ** 3);
    expect(parseSize('1GiB')).toBe(1024 ** 3);
    expect(parseSize('2 MB')).toBe(2 * 1024 ** 2);
    expect(() => parseSize('lots')).toThrow(/not a size/);
    expect(() => parseSize('-1')).toThrow();
  });
});
