// The teacher in distillation: any model sparq's runtime runs (not only trainable chains), evaluated by
// an InferenceSession. Its logits are its output, or, when that output is a Softmax, the log of the
// probabilities: softmax(log p / T) = softmax(z / T) for the teacher's logits z, so nothing is lost.
import { SparqError } from '../errors.js';
import type { Model } from '../model.js';
import { InferenceSession } from '../session.js';
import { Tensor } from '../tensor.js';

export class Teacher {
  readonly inputSize: number;
  readonly outputSize: number;
  readonly #session: InferenceSession;
  readonly #inputName: string;
  readonly #outputName: string;
  readonly #probabilities: boolean;

  private constructor(session: InferenceSession, model: Model, inputSize: number, outputSize: number) {
    this.#session = session;
    this.#inputName = model.inputs[0].name;
    this.#outputName = model.outputs[0].name;
    this.inputSize = inputSize;
    this.outputSize = outputSize;
    const producer = model.nodes.find((n) => n.outputs.includes(this.#outputName));
    this.#probabilities = producer?.op === 'Softmax';
  }

  static async create(model: Model, threads: number): Promise<Teacher> {
    if (model.inputs.length !== 1 || model.inputs[0].dtype !== 'float32')
      throw new SparqError('ERR_UNSUPPORTED_OP', `distill() needs a teacher with one float32 input; this one has ${model.inputs.map((i) => `${i.name} (${i.dtype})`).join(', ')}`);
    const last = (name: string): number => {
      const dims = model.valueInfo(name)?.dims ?? [];
      const d = dims[dims.length - 1];
      if (typeof d !== 'number' || dims.length !== 2)
        throw new SparqError('ERR_UNSUPPORTED_OP', `distill() needs the teacher's '${name}' to be [batch, features] with a fixed feature size; it is [${dims.join(', ')}]`);
      return d;
    };
    const inputSize = last(model.inputs[0].name);
    const outputSize = last(model.outputs[0].name);
    const session = await InferenceSession.create(model, threads > 0 ? { threads } : {});
    return new Teacher(session, model, inputSize, outputSize);
  }

  /** Logits [rows, outputSize] for x [rows, inputSize], in chunks of bounded size. */
  async logits(x: Float32Array, rows: number, chunk = 1024): Promise<Float32Array> {
    const K = this.inputSize;
    const N = this.outputSize;
    const out = new Float32Array(rows * N);
    for (let r = 0; r < rows; r += chunk) {
      const m = Math.min(chunk, rows - r);
      const feed = new Tensor('float32', x.slice(r * K, (r + m) * K), [m, K]);
      const result = await this.#session.run({ [this.#inputName]: feed });
      out.set(result[this.#outputName].data as Float32Array, r * N);
    }
    if (this.#probabilities) for (let i = 0; i < out.length; i++) out[i] = Math.log(Math.max(out[i], 1e-30));
    return out;
  }

  async release(): Promise<void> {
    await this.#session.release();
  }
}
