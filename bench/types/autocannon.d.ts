// autocannon ships no types; this covers only what bench/lib/autocannon-worker.ts uses.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  interface Request {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
    setupRequest?: (request: Request, context: Record<string, unknown>) => Request | undefined;
    onResponse?: (
      status: number,
      body: string,
      context: Record<string, unknown>,
      headers: Record<string, string>,
    ) => void;
  }

  interface Options extends Request {
    url: string;
    connections: number;
    duration: number;
    timeout: number;
    requests?: Request[];
    initialContext?: Record<string, unknown>;
  }

  /** The per-instance result; off the main thread autocannon returns it unaggregated. */
  interface RawResult {
    totalCompletedRequests: number;
    totalRequests: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    /** Seconds. */
    duration: number;
  }

  interface Instance extends EventEmitter, PromiseLike<RawResult> {
    stop(): void;
  }

  function autocannon(options: Options): Instance;

  export type { Instance, Options, RawResult, Request };
  export default autocannon;
}
