/**
 * The settings table as documentation: the run flags of `bellwether help` and the README's table
 * (between `<!-- settings:begin -->` and `<!-- settings:end -->`), both from engine/config.ts SETTINGS.
 * `bellwether help --settings-markdown README.md` (npm run readme:settings) rewrites the README's
 * table; a unit test fails when it is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { SETTINGS, type Setting } from '../engine/config.js';
import { schemaDefault } from '../engine/settings-spec.js';

export const SETTINGS_BEGIN = '<!-- settings:begin -->';
export const SETTINGS_END = '<!-- settings:end -->';

/** The default as markdown: the schema's constant, or the entry's own words for a computed one. */
function defaultMarkdown(setting: Setting): string {
  if (setting.defaultText !== undefined) return setting.defaultText;
  const value = schemaDefault(setting);
  return typeof value === 'string' ? `\`${value}\`` : String(value);
}

/** Markdown to plain text: `code` loses its backticks, [text](url) becomes `text` or `text (url)`. */
function plain(markdown: string): string {
  return markdown
    .replace(/\[([^\]]+)\]\(([^)]+)\)/g, (_, text: string, url: string) =>
      text === url ? text : `${text} (${url})`,
    )
    .replace(/`([^`]*)`/g, '$1');
}

const cell = (text: string): string => text.replace(/\|/g, '\\|');

/** The README's settings table. */
export function settingsMarkdown(): string {
  const rows = SETTINGS.map(
    (s) =>
      `| \`${s.env}\` | ${s.flag === undefined ? '(environment only)' : `\`--${s.flag}\``} | ${cell(defaultMarkdown(s))} | ${cell(s.help)} |`,
  );
  return ['| variable | flag | default | meaning |', '|---|---|---|---|', ...rows, ''].join('\n');
}

/** Words of `text` in lines of at most `width` characters (a longer word keeps its own line). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

const FLAG_WIDTH = 28;
const ENV_WIDTH = 28;
const HELP_WIDTH = 110 - 2 - FLAG_WIDTH - ENV_WIDTH;

/** The run flags of `bellwether help`: flag, variable, then the help and the default, wrapped. */
export function settingsHelp(): string {
  const indent = ' '.repeat(2 + FLAG_WIDTH + ENV_WIDTH);
  return SETTINGS.map((s) => {
    const flag = s.flag === undefined ? '(environment only)' : `--${s.flag}`;
    const text = `${plain(s.help)} (default: ${plain(defaultMarkdown(s))})`;
    const [first = '', ...rest] = wrap(text, HELP_WIDTH);
    const head = `  ${flag.padEnd(FLAG_WIDTH - 1)} ${s.env.padEnd(ENV_WIDTH - 1)} ${first}`;
    return [head, ...rest.map((l) => indent + l)].join('\n');
  }).join('\n');
}

/** `readme` with the text between the settings markers replaced by the table. */
export function withSettingsTable(readme: string): string {
  const begin = readme.indexOf(SETTINGS_BEGIN);
  const end = readme.indexOf(SETTINGS_END);
  if (begin < 0 || end < begin) {
    throw new Error(`no ${SETTINGS_BEGIN} … ${SETTINGS_END} markers in the README`);
  }
  return `${readme.slice(0, begin + SETTINGS_BEGIN.length)}\n\n${settingsMarkdown()}\n${readme.slice(end)}`;
}

/** Rewrites the settings table of the README at `file`; true when it changed. */
export function writeSettingsTable(file: string): boolean {
  const before = readFileSync(file, 'utf8');
  const after = withSettingsTable(before);
  if (after !== before) writeFileSync(file, after);
  return after !== before;
}
