/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof`): self time per function, per thread.
 * Node names them CPU.<date>.<time>.<pid>.<threadId>.<seq>.cpuprofile; thread 0 is the main thread.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

interface HotSpot {
  fn: string;
  where: string;
  self_ms: number;
  pct: number;
}

export interface ThreadProfile {
  file: string;
  thread: string;
  total_ms: number;
  top: HotSpot[];
  /** Self time grouped by package (node_modules) or project directory. */
  by_module: { module: string; self_ms: number; pct: number }[];
}

/** 'nats-core' for a node_modules file, 'engine/' for a project file, '(gc)' etc. for V8 entries. */
function moduleOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : fn.startsWith('wasm-function') ? '(wasm)' : '(native/builtin)';
  const parts = url.replace(/^file:\/\//, '').split('/');
  const nm = parts.lastIndexOf('node_modules');
  if (nm >= 0) return parts[nm + 1]!.startsWith('@') ? `${parts[nm + 1]}/${parts[nm + 2]}` : parts[nm + 1]!;
  if (url.startsWith('node:') || !url.includes('/')) return '(node internals)';
  if (url.startsWith('wasm')) return '(wasm)';
  const dist = parts.lastIndexOf('dist');
  return dist >= 0 ? `${parts[dist + 1]}/` : parts.slice(-2, -1).join('/');
}

function where(url: string, line: number): string {
  if (!url) return '';
  const parts = url.replace(/^file:\/\//, '').split('/');
  const nm = parts.lastIndexOf('node_modules');
  const short = nm >= 0 ? parts.slice(nm + 1).join('/') : parts.slice(-2).join('/');
  return `${short}:${line + 1}`;
}

function summarise(profile: CpuProfile, top: number): Omit<ThreadProfile, 'file' | 'thread'> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  const moduleUs = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    // A sample's time is the delta to the next sample.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (!node) continue;
    const cf = node.callFrame;
    // Idle time (waiting in the event loop) is not CPU: left out of the total.
    if (cf.functionName === '(idle)') continue;
    const key = `${cf.functionName || '(anonymous)'}\t${where(cf.url, cf.lineNumber)}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
    const module = moduleOf(cf.url, cf.functionName);
    moduleUs.set(module, (moduleUs.get(module) ?? 0) + dt);
    total += dt;
  }
  const spots = [...selfUs]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, us]) => {
      const [fn, at] = key.split('\t');
      return { fn: fn!, where: at!, self_ms: us / 1000, pct: (100 * us) / total };
    });
  const byModule = [...moduleUs]
    .sort((a, b) => b[1] - a[1])
    .map(([module, us]) => ({ module, self_ms: us / 1000, pct: (100 * us) / total }));
  return { total_ms: total / 1000, top: spots, by_module: byModule };
}

export async function summariseDir(dir: string, top = 12): Promise<ThreadProfile[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort();
  const out: ThreadProfile[] = [];
  for (const file of files) {
    const profile = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as CpuProfile;
    const thread = file.split('.').at(-3) ?? '?';
    out.push({
      file,
      thread: thread === '0' ? 'main' : `worker thread ${thread}`,
      ...summarise(profile, top),
    });
  }
  return out;
}

export function formatProfiles(profiles: readonly ThreadProfile[], top = 10): string {
  const lines: string[] = [];
  for (const p of profiles) {
    lines.push(`${p.thread} (${p.file}, ${(p.total_ms / 1000).toFixed(1)} s on CPU):`);
    const modules = p.by_module.slice(0, 10).map((m) => `${m.module} ${m.pct.toFixed(0)}%`);
    lines.push(`  by module: ${modules.join(', ')}`);
    for (const s of p.top.slice(0, top))
      lines.push(
        `  ${s.pct.toFixed(1).padStart(5)}%  ${s.self_ms.toFixed(0).padStart(6)} ms  ${s.fn}  ${s.where}`,
      );
  }
  return lines.join('\n');
}
