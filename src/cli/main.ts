// The `sparq` command: dispatches to subcommands. Exit codes: 0 success, 1 failure, 2 bad usage.
// Errors print as one line on stderr (the stack only with --verbose).
import { helpText, parse, UsageError, type Command } from './args.js';
import { commands } from './commands.js';
import { setDefaultProtection } from '../io/crypto/defaults.js';

const TOP_HELP = (): string =>
  [
    'usage: sparq <command> [options]',
    '',
    'Make neural networks small and fast: compress ONNX models and run them on sparse and int8 kernels.',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`),
    '',
    'sparq <command> --help shows a command\'s options.',
  ].join('\n');

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    (name ? process.stdout : process.stderr).write(TOP_HELP() + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    const { backend } = await import('../backend.js');
    process.stdout.write(`sparq ${backend().version}\n`);
    return 0;
  }
  const command: Command | undefined = commands.find((c) => c.name === name);
  try {
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)} (commands: ${commands.map((c) => c.name).join(', ')})`);
    const args = parse(command, rest);
    // SPARQ_MODEL_KEY / SPARQ_MODEL_VERIFY: every model this command (or sparq serve) loads is decrypted / verified.
    setDefaultProtection(process.env.SPARQ_MODEL_KEY || process.env.SPARQ_MODEL_VERIFY ? (await import('../io/crypto/env.js')).protectionFromEnv(process.env) : {});
    if (args.values.help) {
      process.stdout.write(helpText(command) + '\n');
      return 0;
    }
    return await command.run(args);
  } catch (e) {
    const err = e as Error & { code?: string };
    const message = (err?.message ?? String(e)).split('\n')[0];
    process.stderr.write(`sparq: ${err.code ? `${err.code}: ` : ''}${message}\n`);
    if (verbose && err?.stack) process.stderr.write(err.stack + '\n');
    return e instanceof UsageError ? 2 : 1;
  }
}
