/**
 * The shell and each portal page are bundled apart, each with its own copy of the portal kit: a
 * page's `instanceof PortalApiError` must still recognise the errors of the shell's `ctx.api`
 * (found by the files page: its quota message never showed under the shell).
 */
import { expect, it } from 'vitest';

/** What the test uses of src/portal-kit/api.ts (browser code: not typechecked here, without the DOM's types). */
interface ApiModule {
  PortalApiError: new (message: string, status: number, code: string | undefined) => Error & { code: string | undefined };
}

/** One instance of the kit's module, as one bundle has: a query string makes another. */
async function kitCopy(name: string): Promise<ApiModule> {
  return (await import(new URL(`../../../src/portal-kit/api.ts?${name}`, import.meta.url).href)) as ApiModule;
}

it('recognises a PortalApiError made by another copy of the kit, and nothing else', async () => {
  const shell = await kitCopy('shell');
  const page = await kitCopy('page');
  expect(page.PortalApiError).not.toBe(shell.PortalApiError);
  const fromShell = new shell.PortalApiError('the account has used its storage allowance', 507, 'EQUOTA');
  expect(fromShell instanceof page.PortalApiError).toBe(true);
  expect(new page.PortalApiError('x', 400, undefined) instanceof shell.PortalApiError).toBe(true);
  expect(new Error('x') instanceof page.PortalApiError).toBe(false);
  expect({ message: 'x' } instanceof page.PortalApiError).toBe(false);
  expect(fromShell.code).toBe('EQUOTA');
});
