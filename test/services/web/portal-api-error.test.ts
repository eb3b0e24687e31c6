/**
 * The shell and each portal page are bundled apart, each with its own copy of the portal kit: a
 * page's `instanceof PortalApiError` must still recognise the errors of the shell's `ctx.api`
 * (found by the files page: its quota message never showed under the shell).
 */
import { expect, it } from 'vitest';
import { PortalApiError } from '../../../src/portal-kit/api.js';
import type * as Api from '../../../src/portal-kit/api.js';

it('recognises a PortalApiError made by another copy of the kit, and nothing else', async () => {
  // A second instance of the module, as a second bundle has.
  const other = (await import('../../../src/portal-kit/api.js?another-bundle')) as typeof Api;
  expect(other.PortalApiError).not.toBe(PortalApiError);
  const foreign = new other.PortalApiError('the account has used its storage allowance', 507, 'EQUOTA');
  expect(foreign instanceof PortalApiError).toBe(true);
  expect(new PortalApiError('x', 400, undefined) instanceof other.PortalApiError).toBe(true);
  expect(new Error('x') instanceof PortalApiError).toBe(false);
  expect({ message: 'x' } instanceof PortalApiError).toBe(false);
  expect(foreign.code).toBe('EQUOTA');
});
