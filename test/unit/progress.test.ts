/**
 * lib/progress.ts on a stream that is not a terminal (plain lines: every 10 % or every `everyMs`,
 * a last line with count, time and rate) and on one that says it is (cli-progress's bar with
 * percentage, rate and ETA, redrawn in place).
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startProgress } from '../../lib/progress.js';

function captured(tty: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, {
    isTTY: tty,
    columns: 120,
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
  });
  return { stream, text: () => chunks.join('') };
}

describe('startProgress, not a terminal', () => {
  it('writes a line at each 10 % step and a last line, with rate and ETA', () => {
    const out = captured(false);
    const bar = startProgress({
      label: 'replay 回放',
      unit: 'events',
      total: 1000,
      stream: out.stream,
      everyMs: 3_600_000,
    });
    for (let i = 1; i <= 1000; i++)
      bar.update(i, i === 500 ? 'event time 事件时间 2011-01-04T10:00' : undefined);
    bar.stop('done');
    const lines = out.text().trimEnd().split('\n');
    // 10 %, 20 %, …, 100 %, then the last line.
    expect(lines).toHaveLength(11);
    expect(lines[0]).toMatch(/^replay 回放: {2}10% 100\/1,000 events, [\d,]+ events\/s, ETA 剩余 \d+s$/);
    expect(lines[4]).toMatch(
      /^replay 回放: {2}50% 500\/1,000 events, [\d,]+ events\/s, ETA 剩余 \d+s, event time 事件时间 2011-01-04T10:00$/,
    );
    expect(lines[9]).toMatch(/^replay 回放: 100% 1,000\/1,000 events, [\d,]+ events\/s, event time/);
    expect(lines[10]).toMatch(/^replay 回放: 1,000 events in \d+s, [\d,]+ events\/s; done$/);
  });

  it('without a total: count and rate, no percentage or ETA; scaled units', () => {
    const out = captured(false);
    const bar = startProgress({
      label: 'read 读取',
      unit: 'MB',
      scale: 1024 * 1024,
      stream: out.stream,
      everyMs: 0,
    });
    bar.update(3 * 1024 * 1024);
    bar.stop();
    const lines = out.text().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^read 读取: 3\.0 MB, [\d.]+ MB\/s$/);
    expect(lines[1]).toMatch(/^read 读取: 3\.0 MB in \d+s, [\d.]+ MB\/s$/);
  });

  it('is silent when quiet', () => {
    const out = captured(false);
    const bar = startProgress({ label: 'x', unit: 'events', total: 10, stream: out.stream, quiet: true });
    bar.update(10);
    bar.stop();
    expect(out.text()).toBe('');
  });
});

describe('startProgress, on a terminal', () => {
  it('draws a bar with percentage, count, rate and ETA, then the last line', () => {
    const out = captured(true);
    const bar = startProgress({ label: 'dataset 数据集', unit: 'rows', total: 200, stream: out.stream });
    bar.update(100);
    bar.stop();
    const text = out.text();
    expect(text).toMatch(/dataset 数据集 \[[█░]{24}\] 50% 100\/200 rows \| [\d,]+ rows\/s \| ETA 剩余 /);
    expect(text).toMatch(/dataset 数据集: 100 rows in \d+s, [\d,]+ rows\/s\n$/);
  });
});
