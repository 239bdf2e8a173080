// An OTLP/HTTP receiver that accepts every export and keeps nothing: for measuring what tracing costs
// the platform (`OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 npm run bench -- health`) without a
// collector. It counts exports and bytes and prints them when stopped. Usage: node bench/otlp-sink.js [port]
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 4318);
let exports = 0;
let bytes = 0;

const server = createServer((request, response) => {
  request.on('data', (chunk) => {
    bytes += chunk.length;
  });
  request.on('end', () => {
    if (request.url === '/v1/traces') exports++;
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});

server.listen(port, '127.0.0.1', () => console.log(`otlp-sink: listening on http://127.0.0.1:${port}`));

for (const signal of ['SIGTERM', 'SIGINT'])
  process.once(signal, () => {
    console.log(`otlp-sink: ${exports} exports, ${(bytes / 1e6).toFixed(1)} MB`);
    process.exit(0);
  });
