// The model repository: where served models come from. A .onnx / .sparq file is a model named by its
// base name (version "1"); a directory is a repository of models, one folder each, laid out as
// name/model.sparq (or model.onnx), or as Triton lays them out, name/<version>/model.onnx, one
// folder per numeric version. A directory that is itself such a folder (what KServe's storage
// initializer leaves in /mnt/models) is one model, named by the folder (or by --model-name).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';

import { SparqError } from '../errors.js';

export interface ModelSource {
  name: string;
  version: string;
  path: string;
}

const MODEL_EXTENSIONS = ['.sparq', '.onnx'];
/** Names become URL path segments: keep them to what needs no escaping. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export function checkModelName(name: string, where: string): string {
  if (!NAME.test(name) || name.length > 128) throw new SparqError('ERR_INVALID_ARGUMENT', `Expected a model name of letters, digits, '_', '.', '-' for ${where} but received ${JSON.stringify(name)}`);
  return name;
}

function modelFileIn(dir: string): string | undefined {
  for (const ext of MODEL_EXTENSIONS) {
    const p = join(dir, `model${ext}`);
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  return undefined;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The versions of one model folder: numeric subfolders with a model file, else the folder's own file as "1". */
function versionsOf(dir: string, name: string): ModelSource[] {
  const found: ModelSource[] = [];
  for (const entry of readdirSync(dir).sort()) {
    if (!/^\d+$/.test(entry)) continue;
    const file = isDirectory(join(dir, entry)) ? modelFileIn(join(dir, entry)) : undefined;
    if (file) found.push({ name, version: String(Number(entry)), path: file });
  }
  if (found.length > 0) return found;
  const own = modelFileIn(dir);
  return own ? [{ name, version: '1', path: own }] : [];
}

/** The models a list of files and repository directories holds (throws on none, or a name twice). */
export function findModels(paths: readonly string[]): ModelSource[] {
  const out: ModelSource[] = [];
  for (const p of paths) {
    if (!existsSync(p)) throw new SparqError('ERR_IO', `Expected a model file or repository directory but ${p} does not exist`);
    if (isDirectory(p)) {
      // A model's own folder (model.onnx, or numbered versions) is one model named by the folder.
      const own = versionsOf(p, basename(resolve(p)));
      if (own.length > 0) {
        checkModelName(own[0].name, p);
        out.push(...own);
        continue;
      }
      const before = out.length;
      for (const entry of readdirSync(p).sort()) {
        const dir = join(p, entry);
        if (!isDirectory(dir) || entry.startsWith('.')) continue;
        out.push(...versionsOf(dir, checkModelName(entry, `the folder ${dir}`)));
      }
      if (out.length === before) throw new SparqError('ERR_IO', `The model repository ${p} has no models (expected name/model.sparq, name/model.onnx or name/<version>/model.onnx)`);
    } else {
      const ext = extname(p).toLowerCase();
      if (!MODEL_EXTENSIONS.includes(ext)) throw new SparqError('ERR_IO', `Expected a .onnx or .sparq file but received ${p}`);
      out.push({ name: checkModelName(basename(p, extname(p)), p), version: '1', path: p });
    }
  }
  const seen = new Set<string>();
  for (const m of out) {
    const key = `${m.name}/${m.version}`;
    if (seen.has(key)) throw new SparqError('ERR_INVALID_ARGUMENT', `Two models are named "${m.name}" (version ${m.version}): rename one of the files`);
    seen.add(key);
  }
  return out;
}
