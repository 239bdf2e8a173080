import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NGINX_CONF = fileURLToPath(new URL('../../deploy/nginx/nginx.conf', import.meta.url));

/** The nginx binary on PATH or in the usual sbin directories; undefined when nginx is not installed. */
export function findNginx(): string | undefined {
  for (const candidate of [
    'nginx',
    '/usr/sbin/nginx',
    '/usr/local/sbin/nginx',
    '/usr/local/nginx/sbin/nginx',
  ]) {
    try {
      execFileSync(candidate, ['-v'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}

export interface RenderTargets {
  /** A private directory: the rendered nginx.conf, pid file and temp directories go there. */
  dir: string;
  /** `host:port` of each api process's HTTP API, in place of api-1:8000, api-2:8000. */
  api: string[];
  /** `host:port` of each api process's contest port, in place of api-1:8080, api-2:8080. */
  contest: string[];
  /** Ports nginx listens on (127.0.0.1) in place of 80 and 8080. */
  listen: number;
  contestListen: number;
  /** Replaces every `fail_timeout=` of the upstreams (the tests wait for a process to come back). */
  failTimeout?: string;
}

/**
 * deploy/nginx/nginx.conf made runnable here: the compose hostnames become the given addresses, the
 * listen ports free ones, and the pid file, access log and temp paths absolute paths in `dir`. Everything else is
 * the deployed file as it is. Returns the path of the rendered file.
 */
export function renderNginxConfig(targets: RenderTargets): string {
  let text = readFileSync(NGINX_CONF, 'utf8');
  const replaceServers = (port: number, addresses: string[]) => {
    let index = 0;
    text = text.replace(new RegExp(`^(\\s*server )api-\\d+:${port}( .*;)$`, 'gm'), (_line, head, tail) => {
      const address = addresses[index++];
      if (!address) throw new Error(`nginx.conf has more :${port} upstream servers than addresses given`);
      return `${head}${address}${tail}`;
    });
    if (index !== addresses.length)
      throw new Error(
        `nginx.conf has ${index} :${port} upstream servers, ${addresses.length} addresses given`,
      );
  };
  replaceServers(8000, targets.api);
  replaceServers(8080, targets.contest);
  const once = (pattern: RegExp, replacement: string) => {
    if (!pattern.test(text)) throw new Error(`nginx.conf: ${pattern} not found`);
    text = text.replace(pattern, replacement);
  };
  once(/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${targets.listen};`);
  once(/^(\s*)listen 8080;$/m, `$1listen 127.0.0.1:${targets.contestListen};`);
  once(/^pid .*;$/m, `pid ${join(targets.dir, 'nginx.pid')};`);
  // Node's child stdio are socketpairs, which /dev/stdout cannot be opened on: a file instead.
  once(/^(\s*)access_log \/dev\/stdout /m, `$1access_log ${join(targets.dir, 'access.log')} `);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((kind) => {
      const path = join(targets.dir, `${kind}_temp`);
      mkdirSync(path, { recursive: true });
      return `  ${kind}_temp_path ${path};`;
    })
    .join('\n');
  once(/^http \{$/m, `http {\n${temp}`);
  if (targets.failTimeout)
    text = text.replace(/fail_timeout=\S+?(?=[ ;])/g, `fail_timeout=${targets.failTimeout}`);
  const file = join(targets.dir, 'nginx.conf');
  writeFileSync(file, text);
  return file;
}
