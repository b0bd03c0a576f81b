/**
 * The shape of the tree: no file of the compiled folders (everything but test/) is longer than
 * 400 lines, and the layer check (`npm run deps`) and knip look at every one of those folders.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../lib/paths.js';

const MAX_LINES = 400;

/** The folders tsconfig.build.json compiles: the engine, its tools and the benchmarks. */
function compiledFolders(): string[] {
  const config = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'tsconfig.build.json'), 'utf8')) as {
    include: string[];
  };
  return config.include;
}

function typescriptFiles(folder: string): string[] {
  return readdirSync(path.join(PACKAGE_ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => path.join(folder, name))
    .sort();
}

function lineCount(file: string): number {
  const text = readFileSync(path.join(PACKAGE_ROOT, file), 'utf8');
  const lines = text.split('\n').length;
  return text.endsWith('\n') ? lines - 1 : lines;
}

describe('layout', () => {
  it(`keeps every file outside test/ at ${MAX_LINES} lines or fewer`, () => {
    const files = compiledFolders().flatMap(typescriptFiles);
    expect(files.length).toBeGreaterThan(100);
    const offenders = files
      .map((file) => ({ file, lines: lineCount(file) }))
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `${f.file}: ${f.lines} lines`);
    expect(offenders).toEqual([]);
  });

  it('checks the layers and dead code of every compiled folder', () => {
    const pkg = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const cruised = pkg.scripts.deps!.split(' --')[0]!.split(' ').slice(1);
    expect(cruised.sort()).toEqual(compiledFolders().sort());
    const knip = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'knip.json'), 'utf8')) as {
      project: string[];
    };
    // Besides the TypeScript: the console's browser modules (console/, served as they are).
    expect(knip.project).toEqual([
      `{${[...compiledFolders(), 'test'].join(',')}}/**/*.ts`,
      'console/**/*.js',
    ]);
    expect(pkg.scripts.test!.split(' && ')).toEqual(expect.arrayContaining(['npm run deps', 'npm run knip']));
  });
});
