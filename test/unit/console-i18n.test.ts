/**
 * The console's strings: English and Chinese hold the same keys, and every key a screen asks for
 * (`t('…')` in console/) exists in both, so no screen shows a bare key in either language.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../lib/paths.js';

const CONSOLE = path.join(PACKAGE_ROOT, 'console');
const i18n = readFileSync(path.join(CONSOLE, 'i18n.js'), 'utf8');

/** The keys of one language's block in console/i18n.js. */
function keysOf(language: 'en' | 'zh'): Set<string> {
  const start = i18n.indexOf(`\n  ${language}: {`);
  const end = i18n.indexOf('\n  },', start);
  const block = i18n.slice(start, end);
  return new Set([...block.matchAll(/^ {4}(\w+): /gm)].map((m) => m[1]!));
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(path.join(dir, e.name))
      : e.name.endsWith('.js')
        ? [path.join(dir, e.name)]
        : [],
  );
}

describe('console strings', () => {
  it('has the same keys in English and Chinese', () => {
    const en = keysOf('en');
    expect(en.size).toBeGreaterThan(100);
    expect([...keysOf('zh')].sort()).toEqual([...en].sort());
  });

  it('has every key the screens ask for', () => {
    const en = keysOf('en');
    const asked = new Set<string>();
    for (const file of sources(CONSOLE))
      for (const m of readFileSync(file, 'utf8').matchAll(/\bt\('(\w+)'\)/g)) asked.add(m[1]!);
    expect(asked.size).toBeGreaterThan(50);
    expect([...asked].filter((k) => !en.has(k))).toEqual([]);
  });
});
