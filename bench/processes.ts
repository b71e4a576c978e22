// CPU used by the stack's processes over a window, read from /proc (Linux): which component is the wall.
// By default the groups the notification benches report; a bench names its own.
import { readdirSync, readFileSync } from 'node:fs';

const stackGroups: Record<string, RegExp> = {
  'temporal dev server': /start-dev/,
  postgres: /^postgres/,
  api: /api\/server\.ts/,
  workers: /workers\/main\.[jt]s/,
  'this bench': /bench\/notifications\/run\.ts/,
};
const TICKS = 100; // USER_HZ

/** utime + stime of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat file, in ticks. */
function statTicks(path: string): number {
  const stat = readFileSync(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function ticksByGroup(groups: Record<string, RegExp>): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(Object.keys(groups).map((g) => [g, 0]));
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const group = Object.entries(groups).find(([, re]) => re.test(cmd))?.[0];
      if (!group) continue;
      out[group]! += statTicks(`/proc/${pid}/stat`);
    } catch {
      /* the process ended */
    }
  }
  return out;
}

/** CPU ticks of the threads whose name matches, in the processes whose command line matches. */
function threadTicks(process: RegExp, thread: RegExp): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!process.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '))) continue;
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        if (!thread.test(readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim())) continue;
        ticks += statTicks(`/proc/${pid}/task/${tid}/stat`);
      }
    } catch {
      /* the process or thread ended */
    }
  }
  return ticks;
}

/**
 * Starts a window; the returned function answers the CPU seconds a JVM's JIT compiler threads used in it:
 * a JVM still compiling its hot code spends cores on that instead of the work being measured.
 */
export function jitSecondsWindow(process: RegExp): () => number {
  const before = threadTicks(process, /^C[12] CompilerThre/);
  return () => (threadTicks(process, /^C[12] CompilerThre/) - before) / TICKS;
}

/** Starts a window; the returned function answers the CPU seconds each group of processes used in it. */
export function cpuSecondsWindow(groups: Record<string, RegExp>): () => Record<string, number> {
  const before = ticksByGroup(groups);
  return () => {
    const after = ticksByGroup(groups);
    return Object.fromEntries(Object.keys(groups).map((g) => [g, (after[g]! - before[g]!) / TICKS]));
  };
}

/** Starts a window; the returned function answers each group's CPU in cores (1.0 = one core busy). */
export function cpuWindow(groups: Record<string, RegExp> = stackGroups): () => string {
  const used = cpuSecondsWindow(groups);
  const t0 = performance.now();
  return () => {
    const cpu = used();
    const seconds = (performance.now() - t0) / 1000;
    return (
      Object.keys(groups)
        .map((g) => `${g} ${(cpu[g]! / seconds).toFixed(2)}`)
        .join(', ') + ' cores'
    );
  };
}
