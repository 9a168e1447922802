// sparq inspect <model>: inputs, outputs, op histogram, parameters, per-layer sparsity and format,
// size, and unsupported ops (listed rather than fatal: inspecting a model sparq can't run is useful).
import { readFileSync, statSync } from 'node:fs';

import { SparqError } from '../../errors.js';
import type { Model } from '../../model.js';
import { loadModel } from '../../io/model-file.js';
import { decodeModel } from '../../onnx/decode.js';
import { isSparq, openSparq } from '../../io/sparq-format.js';
import { describeProtection } from '../../io/crypto/protection.js';
import { defaultProtection } from '../../io/crypto/defaults.js';
import { existingFile, str, type Command } from '../args.js';
import { summarizeGraph } from '../model-summary.js';
import { textTable, writeJson } from '../output.js';

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'Show a model: inputs, outputs, ops, parameters, per-layer sparsity and kernel format.',
  usage: 'sparq inspect <model.onnx|model.sparq> [--json <file>]',
  help: ['  --json <file>   also write the summary as JSON'],
  options: { json: { type: 'string' } },
  async run({ values, positionals }) {
    const path = existingFile(positionals[0], '<model>');
    const size = statSync(path).size;
    const out = process.stdout;
    // Encryption and signer are readable without a key; the contents of an encrypted file need one.
    const bytes = new Uint8Array(readFileSync(path));
    const protection = isSparq(bytes) ? describeProtection(openSparq(bytes)) : { signer: null, encrypted: null };
    const protectionLines = [
      `encryption: ${protection.encrypted ? `${protection.encrypted.cipher}${protection.encrypted.keyId ? `, key id "${protection.encrypted.keyId}"` : ', key given directly'}` : 'none'}`,
      `signature: ${protection.signer ? `ed25519 by ${protection.signer}` : 'none'}`,
    ];
    if (protection.encrypted && defaultProtection().key === undefined) {
      out.write(`${path}: ${(size / 1024).toFixed(1)} KiB\n${protectionLines.join('\n')}\n\nthe contents are encrypted: set SPARQ_MODEL_KEY to inspect them\n`);
      const json = str(values, 'json');
      if (json) writeJson(json, { path, bytes: size, ...protection });
      return 0;
    }
    let unsupported: string | undefined;
    let summary;
    try {
      const model: Model = await loadModel(path);
      summary = summarizeGraph(model.graph, model.weightFormats);
    } catch (e) {
      if (!(e instanceof SparqError) || e.code !== 'ERR_UNSUPPORTED_OP') throw e;
      unsupported = e.message;
      summary = summarizeGraph(decodeModel(readFileSync(path)).graph);
    }
    const dims = (d: (number | string)[] | null) => (d ? `[${d.join(', ')}]` : '[?]');
    out.write(`${path}: ${(size / 1024).toFixed(1)} KiB, opset ${summary.opset}\n${protectionLines.join('\n')}\n\n`);
    out.write(textTable(['input', 'type', 'dims'], summary.inputs.map((i) => [i.name, i.dtype, dims(i.dims)])) + '\n\n');
    out.write(textTable(['output', 'type', 'dims'], summary.outputs.map((i) => [i.name, i.dtype, dims(i.dims)])) + '\n\n');
    const ops = Object.entries(summary.ops).sort((a, b) => b[1] - a[1]);
    out.write(textTable(['op', 'count'], ops) + '\n\n');
    out.write(`parameters: ${summary.params.toLocaleString('en-US')} (${summary.nonzeros.toLocaleString('en-US')} nonzero, ${(100 * (1 - summary.nonzeros / Math.max(1, summary.params))).toFixed(1)}% zeros), initializers ${(summary.initializerBytes / 1024).toFixed(1)} KiB\n\n`);
    if (summary.layers.length)
      out.write(
        textTable(
          ['layer', 'op', 'weight', 'dims', 'params', 'sparsity %', 'format'],
          summary.layers.map((l) => [l.node, l.op, l.weight, l.dims.join('x'), l.params, 100 * l.sparsity, l.format]),
        ) + '\n',
      );
    out.write(unsupported ? `\nunsupported: ${unsupported}\n` : '\nunsupported ops: none\n');
    const json = str(values, 'json');
    if (json) writeJson(json, { path, bytes: size, ...summary, ...protection, unsupported: unsupported ?? null });
    return 0;
  },
};
