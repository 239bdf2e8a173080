// Container healthchecks without curl in the image (node:20-bookworm-slim has none).
//   node /app/deploy/healthcheck.mjs http://127.0.0.1:8000/health/ready   an api process: 200 = ready
//   node /app/deploy/healthcheck.mjs database                             a worker: its database answers
// Exit 0 = healthy, 1 = not; one line on stderr says why.
const target = process.argv[2] ?? 'http://127.0.0.1:8000/health/ready';
const fail = (reason) => {
  process.stderr.write(`unhealthy: ${reason}\n`);
  process.exit(1);
};
const timer = setTimeout(() => fail('no answer within 4 s'), 4000);

if (target === 'database') {
  const { default: postgres } = await import('postgres');
  const sql = postgres(process.env.DATABASE_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
  } catch (error) {
    fail(`database: ${error.message}`);
  } finally {
    await sql.end({ timeout: 1 });
  }
} else {
  const response = await fetch(target).catch((error) => fail(`${target}: ${error.message}`));
  if (response.status !== 200) fail(`${target} answered ${response.status}: ${await response.text()}`);
}
clearTimeout(timer);
