#!/usr/bin/env node
// Completes package-lock.json with the platform-specific optional packages a
// registry mirror did not serve (npm then leaves them out of the lock, and
// `npm ci` refuses the lock as out of sync with package.json). Each missing
// entry is written as npm writes it: version, os, cpu (and libc), optional.
// npm ci skips them on other platforms, so they are never fetched.
//
// Run after `npm install` changed the lock:  node scripts/complete-lockfile.mjs

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'package-lock.json');
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages;

const OS = ['android', 'darwin', 'freebsd', 'linux', 'openbsd', 'openharmony', 'netbsd', 'sunos', 'aix', 'win32'];
const CPU = { x64: 'x64', arm64: 'arm64', arm: 'arm', ia32: 'ia32', loong64: 'loong64', mips64el: 'mips64el', ppc64: 'ppc64', riscv64: 'riscv64', s390x: 's390x' };

/** os, cpu and libc from a name like @rollup/rollup-linux-arm-musleabihf or @esbuild/darwin-x64. */
export function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const at = parts.findIndex((p) => OS.includes(p));
  if (at < 0 || at + 1 >= parts.length) return null;
  const cpu = CPU[parts[at + 1]];
  if (!cpu) return null;
  const rest = parts.slice(at + 2).join('-');
  const entry = { os: [parts[at]], cpu: [cpu] };
  if (parts[at] === 'linux') {
    if (/musl/.test(rest)) entry.libc = ['musl'];
    else if (/gnu/.test(rest)) entry.libc = ['glibc'];
  }
  return entry;
}

let added = 0;
const unknown = [];
for (const [path, meta] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    const nested = `${path}/node_modules/${dep}`;
    if (packages[key] || packages[nested]) continue;
    const platform = platformOf(dep);
    if (!platform) {
      unknown.push(dep);
      continue;
    }
    packages[key] = {
      version,
      ...(platform.cpu && { cpu: platform.cpu }),
      ...(meta.dev && { dev: true }),
      ...(platform.libc && { libc: platform.libc }),
      license: meta.license ?? 'MIT',
      optional: true,
      os: platform.os,
    };
    added++;
  }
}

// npm keeps the entries sorted by path.
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)),
);
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`complete-lockfile: added ${added} platform package entr${added === 1 ? 'y' : 'ies'}`);
if (unknown.length) {
  console.error(`complete-lockfile: no platform known for ${unknown.join(', ')}`);
  process.exit(1);
}
