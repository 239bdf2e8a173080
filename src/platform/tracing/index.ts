export { traceHttpRequests } from './http-server.ts';
export { traceLogFields } from './log-fields.ts';
export { currentTraceparent, inSpan } from './propagation.ts';
export { startTracing, type Tracing, tracingActive } from './tracing.ts';
