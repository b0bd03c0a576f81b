/**
 * Flags of one `bellwether` command line, read with node:util parseArgs but checked here, so a bad
 * command line is a coded error (not a stack trace) that lists every problem at once, suggests the
 * nearest flag for a mistyped one, and carries the command's known flags for the message.
 */
import { parseArgs } from 'node:util';
import { BellwetherError, type ErrorCode } from '../contract/errors.js';

type FlagOptions = Readonly<Record<string, { readonly type: 'string' | 'boolean' }>>;

type FlagValues<O extends FlagOptions> = {
  [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string;
};

export interface CommandLine {
  /** The command's name in messages: `run`, `replay`. */
  readonly command: string;
  readonly options: FlagOptions;
  readonly allowPositionals: boolean;
  /** The code of a bad command line: BW_ERR_CONFIG_INVALID where flags are settings, else BW_ERR_CLI_USAGE. */
  readonly code: ErrorCode;
  /** Extra words for an unknown flag (`--pii-key`: a secret read from the environment only). */
  readonly unknownHint?: (name: string) => string | undefined;
}

/** Edit distance of two flag names (insertions, deletions, substitutions). */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The known flag nearest to a mistyped one, if one is near enough to be what was meant. */
function nearest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 4)) + 1;
  for (const flag of known) {
    const d = distance(name, flag);
    if (d < bestDistance) {
      best = flag;
      bestDistance = d;
    }
  }
  return best;
}

function unknownFlag(line: CommandLine, rawName: string, name: string, known: readonly string[]): string {
  const hint = line.unknownHint?.(name);
  if (hint) return `${rawName} is not a flag of ${line.command}: ${hint}`;
  const near = nearest(name, known);
  return `unknown flag ${rawName}${near ? ` (did you mean --${near}?)` : ''}`;
}

/**
 * Parses `args` for `line`; throws `line.code` with every problem (unknown flag, missing value, value
 * given to a switch, stray argument) in `data.violations` and the known flags in `data.flags`.
 */
export function parseCommandFlags<O extends FlagOptions>(
  line: CommandLine & { readonly options: O },
  args: string[],
): { values: FlagValues<O>; positionals: string[] } {
  const { values, positionals, tokens } = parseArgs({
    args,
    options: line.options as Record<string, { type: 'string' | 'boolean' }>,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const known = Object.keys(line.options);
  const problems: string[] = [];
  let afterUnknown = -1;
  for (const token of tokens) {
    if (token.kind === 'option') {
      const type = line.options[token.name]?.type;
      if (type === undefined) {
        problems.push(unknownFlag(line, token.rawName, token.name, known));
        afterUnknown = token.index + 1;
      } else if (type === 'string' && token.value === undefined) {
        problems.push(`${token.rawName} needs a value`);
      } else if (type === 'string' && !token.inlineValue && token.value?.startsWith('-')) {
        problems.push(
          `${token.rawName} needs a value (got the flag ${token.value}; write ${token.rawName}=VALUE)`,
        );
      } else if (type === 'boolean' && token.value !== undefined) {
        problems.push(`${token.rawName} takes no value (got ${JSON.stringify(token.value)})`);
      }
    } else if (token.kind === 'positional' && !line.allowPositionals && token.index !== afterUnknown) {
      problems.push(`unexpected argument ${JSON.stringify(token.value)}: ${line.command} takes flags only`);
    }
  }
  if (problems.length > 0) {
    const flags = known.map((f) => `--${f}`);
    throw new BellwetherError(line.code, `${line.command}: ${problems.join('; ')}`, {
      data: { violations: problems, flags },
    });
  }
  return { values: values as FlagValues<O>, positionals };
}
