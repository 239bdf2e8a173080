import { readFileSync } from 'node:fs';

/**
 * Whether `pid` is still the process that `identity` was taken from. A pid alone is not enough:
 * after a restart (a container's pids start again at 1) a stale pid often names another process.
 */
export function isSameProcess(pid: number, identity: string): boolean {
  if (!isAlive(pid)) return false;
  return identity === '' || processIdentity(pid) === identity;
}

/** The process's start time in clock ticks since boot (Linux), or '' where /proc does not tell. */
export function processIdentity(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (the command) may hold spaces and parentheses: count fields after its closing one.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but another user's (a postmaster run as `postgres`, when we are not root).
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process's command name (Linux), or undefined where /proc does not tell. */
export function commandName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}
