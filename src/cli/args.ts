// Argument handling shared by the subcommands: parseArgs with per-command option specs, usage errors
// (exit 2) and value parsers that say which flag was wrong.
import { existsSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Lines of help after the usage line. */
  help: string[];
  options: OptionSpec;
  run(args: ParsedArgs): Promise<number>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Options every subcommand takes. */
export const COMMON_OPTIONS: OptionSpec = {
  help: { type: 'boolean', short: 'h' },
  verbose: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
};

export function parse(command: Command, argv: string[]): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split('\n')[0]} (see sparq ${command.name} --help)`);
  }
}

export function helpText(command: Command): string {
  return [`usage: ${command.usage}`, '', command.summary, '', ...command.help, '', '  -h, --help      this help', '  -q, --quiet     no progress bars', '      --verbose   stack traces on errors'].join('\n');
}

export function positiveInt(value: string | undefined, flag: string, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new UsageError(`Expected a positive integer for ${flag} but received nothing`);
    return fallback;
  }
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`Expected a positive integer for ${flag} but received ${JSON.stringify(value)}`);
  return n;
}

export function intList(value: string | undefined, flag: string, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  return value.split(',').map((v) => positiveInt(v.trim(), flag));
}

export function fraction(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n >= 1) throw new UsageError(`Expected a number in [0, 1) for ${flag} but received ${JSON.stringify(value)}`);
  return n;
}

export function oneOf<T extends string>(value: string | undefined, flag: string, allowed: readonly T[], fallback?: T): T | undefined {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`Expected one of ${allowed.join(', ')} for ${flag} but received ${JSON.stringify(value)}`);
  return value as T;
}

export function existingFile(path: string | undefined, what: string): string {
  if (!path) throw new UsageError(`Expected a path for ${what} but received nothing`);
  if (!existsSync(path)) throw new UsageError(`Expected an existing file for ${what} but ${path} does not exist`);
  return path;
}

export function str(values: ParsedArgs['values'], key: string): string | undefined {
  const v = values[key];
  return typeof v === 'string' ? v : undefined;
}
