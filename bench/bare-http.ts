/**
 * The raw limit for HTTP: a bare `node:http` server in its own process answering the very bytes the
 * engine answered for the same paths, from a Map. No framework, no worker hop, no serialisation.
 *
 *   bare-http.js --bodies FILE      FILE: {"/v1/customers/c000001": "<json text>", ...}
 * Reports {"bench":"ready","port":N} and serves until SIGTERM.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { report, runMain, stringArg } from './lib/report.js';

runMain(async () => {
  const { values } = parseArgs({ options: { bodies: { type: 'string' } } });
  const file = stringArg(values.bodies, 'bodies');
  const bodies = JSON.parse(await readFile(file, 'utf8')) as Record<string, string>;
  const map = new Map<string, Buffer>(Object.entries(bodies).map(([k, v]) => [k, Buffer.from(v)]));
  const notFound = Buffer.from('{"error":{"code":"BW_ERR_CUSTOMER_NOT_FOUND"}}');
  const server = http.createServer((req, res) => {
    const body = map.get(req.url ?? '');
    res.writeHead(body ? 200 : 404, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': (body ?? notFound).length,
    });
    res.end(body ?? notFound);
  });
  server.keepAliveTimeout = 72_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
  });
  report('ready', { port });
});
