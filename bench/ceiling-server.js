// The ceiling: a bare Node HTTP server answering 200 "ok" to everything. Loading it with the same tool
// and settings as a scenario shows what this machine and tool allow, so scenario figures read as ratios.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 0);
const host = process.env.HOST ?? '127.0.0.1';

const server = createServer((request, response) => {
  request.resume(); // drain any body so keep-alive connections stay usable
  response.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
  response.end('ok');
});

server.listen(port, host);

for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => process.exit(0));
