import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'wharf-data/**', 'coverage/**', 'bench/.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  // A file or a function a reader can hold in their head (issue #18): past these, split it, or say
  // why not in an `eslint-disable-next-line ... -- reason` comment.
  {
    files: ['src/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 700, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['error', { max: 100, skipBlankLines: true, skipComments: true }],
    },
  },
  // The layers (docs: /ARCHITECTURE.md): cli → services → store → core → codec, and cli-kit (what
  // a service's cli.ts needs from the command line) beside core. Arrows only point down.
  ...layers(),
);

/** What each layer may not import, as `no-restricted-imports` groups of relative paths. */
function layers() {
  const noIo = { group: ['node:net', 'node:dgram', 'node:fs', 'node:fs/promises', 'node:child_process', 'node:http', 'node:tls', 'net', 'dgram', 'fs', 'child_process'], message: 'protocol and codec code is pure: no I/O imports' };
  const up = (from, names) => ({ regex: `(^|/)(${names.join('|')})/`, message: `${from} may not import ${names.join(', ')}: arrows point down (cli → services → store → core → codec)` });
  // `depth` is how many folders a file is below src/services/: from src/services/NAME/ (depth 1)
  // `../x/` is another service, from src/services/NAME/FOLDER/ (depth 2) `../../x/` is.
  const service = (depth) => [
    up('a service', ['cli']),
    { regex: `^${'\\.\\./'.repeat(depth)}(?!\\.\\./)|(^|/)services/`, message: 'a service never imports another service: move what they share into core, codec or store' },
  ];
  // The test tools (src/testing: the lossy relay, the protocol harness) are for test/ and bench/;
  // the product never runs them. Only src/index.ts re-exports them, as public API.
  const browserOnly = { regex: '(^|/)(core|store|cli|cli-kit|codec|testing)/|^node:', message: 'browser code runs in the page: it imports only src/portal-kit and its own service\'s pure files' };
  const noTesting = { regex: '(^|/)testing/', message: 'src/testing is for tests and benchmarks: product code does not import it' };
  // One `no-restricted-imports` per file wins (flat config does not merge them): each group repeats noTesting.
  const restrict = (files, patterns) => ({ files, ignores: ['src/index.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [...patterns, noTesting] }] } });
  return [
    restrict(['src/**/*.ts'], []),
    restrict(['src/services/*/*.ts'], service(1)),
    restrict(['src/services/*/*/*.ts'], service(2)),
    restrict(['src/services/*/*/*/*.ts'], service(3)),
    // The portal's browser code (core/portal.ts): it runs in the page, bundled by
    // scripts/build-portal.mjs, so it imports only the portal kit and its own service's pure files.
    restrict(['src/services/*/portal/browser/*.ts'], [...service(3), noIo, browserOnly]),
    restrict(['src/portal-kit/**/*.ts'], [noIo, browserOnly, { regex: '^\\.\\./', message: 'the portal kit imports nothing else of wharf\'s' }]),
    restrict(['src/services/*/protocol.ts'], [...service(1), noIo]),
    restrict(['src/services/*/protocol/*.ts'], [...service(2), noIo]),
    restrict(['src/store/**/*.ts'], [up('store', ['services', 'cli', 'cli-kit'])]),
    restrict(['src/cli-kit/**/*.ts'], [up('cli-kit', ['services', 'store', 'cli'])]),
    restrict(['src/core/**/*.ts'], [up('core', ['services', 'store', 'cli', 'cli-kit'])]),
    restrict(['src/codec/**/*.ts'], [noIo, { regex: '^\\.\\./', message: 'codec imports nothing of wharf\'s: it is the bottom layer' }]),
    // The test tools sit beside core: they may use core and codec, never a service, the store or the command.
    { files: ['src/testing/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [up('testing', ['services', 'store', 'cli', 'cli-kit'])] }] } },
  ];
}
