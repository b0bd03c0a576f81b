/**
 * The subject permissions docs/nats-security.md lists, read from the page so that a test and the
 * page cannot drift apart: the engine's `permissions: {…}` block (publish, subscribe and
 * `allow_responses`) and the rows of the producers' table (a producer, `bellwether replay`,
 * `bellwether dlq read`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../lib/paths.js';

export interface DocumentedPermissions {
  publish: string[];
  subscribe: string[];
  /** `allow_responses: true`: may publish one reply to a request it received. */
  allowResponses: boolean;
}

function securityDoc(): string {
  return readFileSync(path.join(PACKAGE_ROOT, 'docs', 'nats-security.md'), 'utf8');
}

/** The engine permissions block of docs/nats-security.md (the fenced block after its marker). */
export function documentedEnginePermissions(): DocumentedPermissions {
  const afterMarker = securityDoc().split('<!-- engine-permissions:')[1];
  const block = afterMarker?.split('```')[1];
  if (block === undefined) throw new Error('docs/nats-security.md has no engine-permissions block');
  const list = (verb: string): string[] => {
    const m = new RegExp(`${verb}: \\{ allow: (\\[[^\\]]*\\]) \\}`).exec(block);
    if (!m) throw new Error(`the engine-permissions block has no ${verb} list`);
    return JSON.parse(m[1]!) as string[];
  };
  return {
    publish: list('publish'),
    subscribe: list('subscribe'),
    allowResponses: /^\s*allow_responses:\s*true\s*$/m.test(block),
  };
}

/** The producers' table rows, by the start of their first cell. */
const CLIENT_ROWS = {
  producer: '| a producer',
  replay: '| `bellwether replay`',
  dlqRead: '| `bellwether dlq read`',
} as const;

/** A row of the "Producers, replay, `dlq read`" table: its publish and subscribe subjects. */
export function documentedClientPermissions(who: keyof typeof CLIENT_ROWS): DocumentedPermissions {
  const row = securityDoc()
    .split('\n')
    .find((line) => line.startsWith(CLIENT_ROWS[who]));
  const cells = row?.split('|').map((c) => c.trim());
  // '| who | publish | subscribe |' splits into ['', who, publish, subscribe, ''].
  if (cells?.length !== 5) throw new Error(`docs/nats-security.md has no ${who} row`);
  const subjects = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  return { publish: subjects(cells[2]!), subscribe: subjects(cells[3]!), allowResponses: false };
}
