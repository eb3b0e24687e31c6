import { execFileSync } from 'node:child_process';

/**
 * Build the portal's browser files (dist/portal/) from the sources before any test runs, so a
 * targeted `npx vitest run` tests the pages as they are now, not as the last `npm run build` left them.
 */
export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build-portal.mjs'], { stdio: 'inherit' });
}
