// `npm i -g mcp-lok` runs no install script: npm warns about every package in the installed
// tree that has one (and a global install asks users to allow them), so the published
// package and its runtime dependencies must have none.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../e2e/harness.js';

interface LockPackage { dev?: boolean; devOptional?: boolean; hasInstallScript?: boolean }

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string>; dependencies?: Record<string, string> };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockPackage> };

/** The lifecycle scripts npm runs when a package is installed (from a tarball or the registry). */
const INSTALL_LIFECYCLE = ['preinstall', 'install', 'postinstall', 'prepare'];

const scripts = suite('install scripts');

scripts('mcp-lok itself has no install-time script (its build runs at pack time)', () => {
  assert.equal(INSTALL_LIFECYCLE.filter((name) => pkg.scripts?.[name] !== undefined), []);
  assert.is(pkg.scripts?.prepack, 'npm run build');
});

scripts('no runtime dependency has an install script', () => {
  const withScripts = Object.entries(lock.packages)
    .filter(([path, entry]) => path !== '' && !entry.dev && !entry.devOptional && entry.hasInstallScript)
    .map(([path]) => path);
  assert.equal(withScripts, []);
});

scripts('the engine client needs no Docker SDK, and child processes no wrapper', () => {
  for (const name of ['dockerode', 'execa', 'which']) assert.is(pkg.dependencies?.[name], undefined, name);
});

scripts.run();
