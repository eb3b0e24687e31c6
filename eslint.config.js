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
  {
    files: ['src/services/*/protocol.ts', 'src/codec/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['node:net', 'node:dgram', 'node:fs', 'node:fs/promises', 'node:child_process', 'node:http', 'node:tls', 'net', 'dgram', 'fs', 'child_process'], message: 'protocol and codec code is pure: no I/O imports' }],
      }],
    },
  },
);
