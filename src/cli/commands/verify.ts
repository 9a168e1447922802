// sparq verify <model.sparq> --key <public.pem> [--key ...]: checks a signed model against trusted
// Ed25519 public keys without decrypting it. Exit 0 when one of them signed these exact bytes; 1 with
// ERR_SIGNATURE when the file is unsigned, signed by another key, or changed since signing.
import { readFileSync } from 'node:fs';

import { openSparq } from '../../io/sparq-format.js';
import { describeProtection } from '../../io/crypto/protection.js';
import { existingFile, UsageError, type Command } from '../args.js';

export const verifyCommand: Command = {
  name: 'verify',
  summary: "Check a signed .sparq model's Ed25519 signature against trusted public keys.",
  usage: 'sparq verify <model.sparq> --key <public.pem> [--key <other.pem> ...]',
  help: ['  --key <file>     a trusted Ed25519 public key (PEM, SPKI: openssl pkey -in key.pem -pubout); repeatable'],
  options: { key: { type: 'string', multiple: true } },
  async run({ values, positionals }) {
    const path = existingFile(positionals[0], '<model.sparq>');
    const keyPaths = (values.key as string[] | undefined) ?? [];
    if (keyPaths.length === 0) throw new UsageError('Expected at least one --key <public.pem> (see sparq verify --help)');
    const { publicKey, verifySigned } = await import('../../io/crypto/signature.js');
    const trusted = keyPaths.map((p) => publicKey(readFileSync(existingFile(p, '--key'), 'utf8'), `--key ${p}`));
    const outer = openSparq(new Uint8Array(readFileSync(path)));
    const { file, signer } = verifySigned(outer, trusted);
    const inner = describeProtection(openSparq(file));
    process.stdout.write(`${path}: signature OK, signed by ${signer}${inner.encrypted ? ` (encrypted, ${inner.encrypted.cipher}${inner.encrypted.keyId ? `, key id "${inner.encrypted.keyId}"` : ''})` : ''}\n`);
    return 0;
  },
};
