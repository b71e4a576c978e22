// CPU used by the stack's processes over a window, read from /proc (Linux): which component is the wall.
// By default the groups the notification benches report; a bench names its own.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

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

interface ProcessRow {
  pid: number;
  ppid: number;
  cmd: string;
  cwd: string;
  /** utime + stime, and cutime + cstime (the children it has reaped), in ticks. */
  ticks: number;
  reaped: number;
  rssKb: number;
}

function processRows(): Map<number, ProcessRow> {
  const rows = new Map<number, ProcessRow>();
  for (const p of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${p}/cwd`);
      } catch {
        /* not ours to read */
      }
      rows.set(Number(p), {
        pid: Number(p),
        ppid: Number(fields[1]),
        cmd: readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(),
        cwd,
        ticks: Number(fields[11]) + Number(fields[12]),
        reaped: Number(fields[13]) + Number(fields[14]),
        rssKb: Number(fields[21]) * 4,
      });
    } catch {
      /* the process ended */
    }
  }
  return rows;
}

/**
 * The processes of the stack started from `root` (a checkout), grouped: a process whose working directory or
 * command line is under `root`, or whose parent's is, belongs to the stack (other checkouts' stacks and test
 * suites on the same machine do not); it counts in the first group its command line matches, else in its
 * nearest ancestor's (Dovecot's login and mail processes in their master's group).
 */
export function stackProcesses(groups: Record<string, RegExp>, root: string): Map<number, { group: string | undefined; row: ProcessRow }> {
  const rows = processRows();
  const out = new Map<number, { group: string | undefined; row: ProcessRow }>();
  const resolve = (pid: number, depth = 0): { ours: boolean; group: string | undefined } => {
    const row = rows.get(pid);
    if (!row || depth > 64) return { ours: false, group: undefined };
    const own = Object.entries(groups).find(([, re]) => re.test(row.cmd))?.[0];
    const here = row.cwd.startsWith(root) || row.cmd.includes(root);
    const parent = row.ppid > 1 ? resolve(row.ppid, depth + 1) : { ours: false, group: undefined };
    return { ours: here || parent.ours, group: own ?? parent.group };
  };
  for (const row of rows.values()) {
    const { ours, group } = resolve(row.pid);
    if (ours) out.set(row.pid, { group, row });
  }
  return out;
}

/**
 * Starts a window over the stack started from `root`; the returned function answers each group's CPU seconds
 * in it, counting the processes that ended meanwhile (their time moves to their parent's reaped time): a
 * Dovecot that forks a mail process per login spends much of its CPU in processes gone by the window's end.
 */
export function stackCpuSecondsWindow(groups: Record<string, RegExp>, root: string): () => Record<string, number> {
  const read = () => {
    const out: Record<string, number> = Object.fromEntries(Object.keys(groups).map((g) => [g, 0]));
    for (const { group, row } of stackProcesses(groups, root).values()) if (group) out[group]! += row.ticks + row.reaped;
    return out;
  };
  const before = read();
  return () => {
    const after = read();
    return Object.fromEntries(Object.keys(groups).map((g) => [g, (after[g]! - before[g]!) / TICKS]));
  };
}
