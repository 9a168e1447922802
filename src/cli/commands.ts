// The subcommands, in the order `sparq --help` lists them.
import type { Command } from './args.js';
import { benchCommand } from './commands/bench.js';
import { compressCommand } from './commands/compress.js';
import { demoCommand } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { explainCommand } from './commands/explain.js';
import { signCommand } from './commands/sign.js';
import { verifyCommand } from './commands/verify.js';
import { inspectCommand } from './commands/inspect.js';
import { runCommand } from './commands/run.js';
import { serveCommand } from './commands/serve.js';

export const commands: Command[] = [demoCommand, inspectCommand, compressCommand, runCommand, benchCommand, evalCommand, explainCommand, signCommand, verifyCommand, serveCommand];
