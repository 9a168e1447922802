// sparq sign <model.sparq> --key <private.pem>: signs a .sparq file (plain or encrypted) with an Ed25519
// key, in place or to -o. A signed file is re-signed (its signature replaced). Keys: openssl genpkey
// -algorithm ed25519 -out key.pem; openssl pkey -in key.pem -pubout -out key.pub.pem.
import { readFileSync } from 'node:fs';

import { SparqError } from '../../errors.js';
import { isSparq, openSparq } from '../../io/sparq-format.js';
import { SECTION_SIGNATURE, SECTION_SIGNED } from '../../io/crypto/protection.js';
import { existingFile, str, UsageError, type Command } from '../args.js';
import { writeText } from '../output.js';

export const signCommand: Command = {
  name: 'sign',
  summary: 'Sign a .sparq model with an Ed25519 private key (sparq verify, or { verify } at load, checks it).',
  usage: 'sparq sign <model.sparq> --key <private.pem> [-o <signed.sparq>]',
  help: ['  --key <file>     the Ed25519 private key (PEM, PKCS#8: openssl genpkey -algorithm ed25519)', '  -o, --output     where to write the signed file (default: replace the model)'],
  options: { key: { type: 'string' }, output: { type: 'string', short: 'o' } },
  async run({ values, positionals }) {
    const path = existingFile(positionals[0], '<model.sparq>');
    const keyPath = existingFile(str(values, 'key'), '--key');
    const bytes = new Uint8Array(readFileSync(path));
    if (!isSparq(bytes)) throw new UsageError(`Expected a .sparq file for <model.sparq> but ${path} is not one (write it with sparq compress -o model.sparq)`);
    const sections = openSparq(bytes);
    // Re-signing replaces the signature: the signed file is the inner one.
    const file = sections.has(SECTION_SIGNATURE) && sections.has(SECTION_SIGNED) ? (sections.get(SECTION_SIGNED) as { bytes(): Uint8Array }).bytes() : bytes;
    const { privateKey, signFile, fingerprint } = await import('../../io/crypto/signature.js');
    const { createPublicKey } = await import('node:crypto');
    let key;
    try {
      key = privateKey(readFileSync(keyPath, 'utf8'), '--key');
    } catch (e) {
      throw new SparqError('ERR_INVALID_ARGUMENT', `Expected an Ed25519 private key (PEM) in ${keyPath}: ${(e as Error).message}`, { cause: e });
    }
    const out = str(values, 'output') ?? path;
    writeText(out, signFile(file, key));
    process.stdout.write(`signed ${out} by ${fingerprint(createPublicKey(key))}\n`);
    return 0;
  },
};
