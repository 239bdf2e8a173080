import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { cpus } from 'node:os';

/**
 * Where the CPU of a measured run went, from /proc (Linux): the server, PostgreSQL, the load generator,
 * everything else, and what the hypervisor stole. On a shared or oversubscribed host the throughput moves
 * with the neighbours far more than the CPU each process spends per request: that is the figure to
 * compare runs by. Elsewhere than Linux every reading is null and the runner prints nothing.
 */

/** Clock ticks per second of /proc's times: 100 on every Linux Node runs on (sysconf(_SC_CLK_TCK)). */
export const TICKS_PER_SECOND = 100;

export interface CpuSnapshot {
  at: number;
  /** CPU ticks (user + system) per process, with its command name. */
  processes: Map<number, { comm: string; ticks: number; ppid: number }>;
  /** The runner's own ticks and those of its children it has reaped (wrk runs as one). */
  runner: number;
  /** /proc/stat's first line: ticks stolen by the hypervisor, and all ticks. */
  steal: number;
  total: number;
  /** CPUs /proc/stat's ticks are summed over. */
  cores: number;
}

export interface CpuSplit {
  /** Percent of one core over the run. */
  percent: { server: number; postgres: number; load: number; other: number; stolen: number };
  /** Microseconds of CPU per request of the run. */
  perRequest: { server: number; postgres: number; load: number };
}

export function snapshot(): CpuSnapshot | null {
  const machine = machineTimes();
  if (!machine) return null;
  const processes = new Map<number, { comm: string; ticks: number; ppid: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const times = processTimes(Number(entry));
    if (times) processes.set(Number(entry), { comm: times.comm, ticks: times.own, ppid: times.ppid });
  }
  const self = processTimes(process.pid);
  return {
    at: Date.now(),
    processes,
    runner: self ? self.own + self.children : 0,
    steal: machine.steal,
    total: machine.total,
    cores: cpus().length,
  };
}

/** The machine's ticks from /proc/stat's first line: all, idle (idle + iowait), stolen; null off Linux. */
export function machineTimes(): { total: number; idle: number; steal: number } | null {
  let stat: string;
  try {
    stat = readFileSync('/proc/stat', 'utf8');
  } catch {
    return null;
  }
  const cpu = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/).slice(1).map(Number);
  return {
    total: cpu.reduce((sum, n) => sum + n, 0),
    idle: (cpu[3] ?? 0) + (cpu[4] ?? 0),
    steal: cpu[7] ?? 0,
  };
}

/**
 * The split between two snapshots. `serverPid` is the server's process (the runner's child, or the one
 * listening on the loaded port) with its descendants (a cluster's HTTP workers); PostgreSQL is every
 * process named `postgres` (also an embedded one the server started). A process that exited between
 * the snapshots is not counted (PostgreSQL backends live as long as their connections).
 */
export function split(
  before: CpuSnapshot,
  after: CpuSnapshot,
  serverPid: number | null,
  requests: number,
): CpuSplit {
  const seconds = (after.at - before.at) / 1000;
  const ticks = { server: 0, postgres: 0, other: 0 };
  const ofServer = (pid: number): boolean => {
    for (let at: number | undefined = pid, hops = 0; at !== undefined && at > 1 && hops < 16; hops++) {
      if (at === serverPid) return true;
      at = after.processes.get(at)?.ppid;
    }
    return false;
  };
  for (const [pid, { comm, ticks: now }] of after.processes) {
    if (pid === process.pid) continue;
    const used = now - (before.processes.get(pid)?.ticks ?? 0);
    if (comm === 'postgres') ticks.postgres += used;
    else if (ofServer(pid)) ticks.server += used;
    else ticks.other += used;
  }
  const load = after.runner - before.runner;
  const percent = (t: number) => Math.round((t / TICKS_PER_SECOND / seconds) * 100);
  const micros = (t: number) => (requests > 0 ? Math.round(((t / TICKS_PER_SECOND) * 1e6) / requests) : 0);
  const allTicks = after.total - before.total;
  const stolen = allTicks > 0 ? ((after.steal - before.steal) / allTicks) * after.cores * 100 : 0;
  return {
    percent: {
      server: percent(ticks.server),
      postgres: percent(ticks.postgres),
      load: percent(load),
      other: percent(ticks.other),
      stolen: Math.round(stolen),
    },
    perRequest: { server: micros(ticks.server), postgres: micros(ticks.postgres), load: micros(load) },
  };
}

/** The process listening on TCP `port` (IPv4 or IPv6), if this user may see it. */
export function listenerOf(port: number): number | null {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is the tenth field.
      if (fields[3] === '0A' && Number.parseInt(fields[1]?.split(':')[1] ?? '', 16) === port)
        inodes.add(fields[9]!);
    }
  }
  if (inodes.size === 0) return null;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        if (target.startsWith('socket:[') && inodes.has(target.slice(8, -1))) return Number(entry);
      } catch {
        // closed meanwhile
      }
    }
  }
  return null;
}

/**
 * A process's own ticks and its reaped children's, with its command name and parent; null once it is gone.
 */
export function processTimes(
  pid: number,
): { comm: string; own: number; children: number; ppid: number } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name is in parentheses and may hold spaces: the fields after it start at the last ')'.
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(stat.indexOf('(') + 1, close);
  const fields = stat.slice(close + 2).split(' ');
  // Fields 4 and 14–17 of proc(5) (ppid; utime, stime, cutime, cstime) are 1 and 11–14 here, counting
  // from the state.
  const [ppid, utime, stime, cutime, cstime] = [1, 11, 12, 13, 14].map((i) => Number(fields[i]));
  return { comm, own: utime! + stime!, children: cutime! + cstime!, ppid: ppid! };
}
