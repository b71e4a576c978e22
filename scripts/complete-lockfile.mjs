// The npm registry mirror on our build machines serves only linux-x64 builds of native packages, so a
// lockfile made there lacks the other platforms' optional entries and `npm ci` refuses it. This adds
// them back exactly as a full registry would record them (optional, with os/cpu), so npm skips them
// on platforms they are not for. Run after `npm install` changes the lockfile:
//   node scripts/complete-lockfile.mjs
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const OS = ['darwin', 'linux', 'win32', 'freebsd', 'openbsd', 'netbsd', 'android', 'sunos', 'aix', 'openharmony'];
const CPU = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el', 'wasm32'];

function missing() {
  try {
    execFileSync('npm', ['ci', '--dry-run', '--no-audit', '--no-fund'], { stdio: 'pipe' });
    return [];
  } catch (error) {
    const text = `${error.stdout}${error.stderr}`;
    return [...text.matchAll(/Missing: (.+?)@(\S*) from lock file/g)].map((m) => ({ name: m[1], version: m[2] }));
  }
}

const lockPath = new URL('../package-lock.json', import.meta.url);
for (let round = 0; round < 3; round++) {
  const entries = missing();
  if (entries.length === 0) break;
  const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
  // The mirror cannot resolve these, so npm prints no version: take it from the parent's declaration.
  const declared = new Map();
  for (const entry of Object.values(lock.packages)) {
    for (const [dep, range] of Object.entries(entry.optionalDependencies ?? {})) declared.set(dep, range);
  }
  for (const { name, version: printed } of entries) {
    const version = printed || declared.get(name);
    if (!version) throw new Error(`no version known for ${name}`);
    const parts = name.split('/').pop().split('-');
    const os = parts.find((p) => OS.includes(p)) ?? (parts.includes('wasi') ? undefined : undefined);
    const cpu = parts.find((p) => CPU.includes(p)) ?? (parts.includes('universal') ? undefined : undefined);
    const libc = parts.includes('musl') ? ['musl'] : parts.includes('gnu') || parts.includes('gnueabihf') ? ['glibc'] : undefined;
    lock.packages[`node_modules/${name}`] = {
      version,
      optional: true,
      ...(cpu ? { cpu: [cpu] } : {}),
      ...(os ? { os: [os] } : { cpu: ['wasm32'] }),
      ...(libc ? { libc } : {}),
    };
  }
  lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
  writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(`added ${entries.length} platform entries`);
}
const left = missing();
if (left.length > 0) {
  console.error(`still missing: ${left.map((e) => e.name).join(', ')}`);
  process.exit(1);
}
console.log('npm ci accepts the lockfile');
