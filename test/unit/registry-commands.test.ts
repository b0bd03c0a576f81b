import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runRegistryCommand } from '../../cli/registry-commands.js';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import { liveModelDir } from '../../models/registry.js';

let dir: string;

/** Runs `bellwether models …` on the test registry and returns what it printed. */
async function models(...args: string[]): Promise<string> {
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  try {
    await runRegistryCommand([...args, '--models-dir', dir]);
  } finally {
    spy.mockRestore();
  }
  return out.join('');
}

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bw-registry-'));
  for (const v of ['1', '2'])
    await cp(path.join(PACKAGE_ROOT, 'models', 'churn', v), path.join(dir, 'churn', v), { recursive: true });
  await cp(path.join(PACKAGE_ROOT, 'models', 'intent', '3'), path.join(dir, 'intent', '3'), {
    recursive: true,
  });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('bellwether models', () => {
  it('lists versions with the live and shadow picks', async () => {
    expect(await models('list')).toBe(
      'churn: live 2, shadow —; versions 1, 2\nintent: live 3, shadow —; versions 3\n',
    );
    const json = JSON.parse(await models('list', '--json')) as {
      name: string;
      versions: { card: { semantics: { event_types: string[] } } }[];
    }[];
    expect(json[0]!.versions[0]!.card.semantics.event_types).toEqual(['purchase', 'refund']);
  });

  it('shadows a challenger, refuses to shadow the live version, and turns the shadow off', async () => {
    expect(await models('shadow', 'churn', '1')).toBe('churn: shadow 1 beside live 2\n');
    expect((await readFile(path.join(dir, 'churn', 'SHADOW'), 'utf8')).trim()).toBe('1');
    await expect(models('shadow', 'churn', '2')).rejects.toMatchObject({
      code: 'BW_ERR_CLI_USAGE',
      message: expect.stringMatching(/is the live version/),
    });
    expect(await models('shadow', 'churn', '--off')).toBe('churn: no shadow\n');
    expect(await exists(path.join(dir, 'churn', 'SHADOW'))).toBe(false);
  });

  it('promotes a version (LIVE written, no temporary file left) and refuses unknown models and versions', async () => {
    expect(await models('promote', 'churn', '1')).toBe('churn: live 1 (was 2)\n');
    expect(path.basename(await liveModelDir(dir, 'churn'))).toBe('1');
    expect(await readFile(path.join(dir, 'churn', 'LIVE'), 'utf8')).toBe('1\n');
    expect(await exists(path.join(dir, 'churn', `LIVE.tmp-${process.pid}`))).toBe(false);
    await expect(models('promote', 'churn', '9')).rejects.toMatchObject({
      code: 'BW_ERR_CLI_USAGE',
      message: expect.stringMatching(/no version 9 of churn .* versions: 1, 2/),
    });
    await expect(models('promote', 'basket', '1')).rejects.toMatchObject({ code: 'BW_ERR_CLI_USAGE' });
    expect(await models('promote', 'churn', '2')).toBe('churn: live 2 (was 1)\n');
  });
});
