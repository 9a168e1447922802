// Errors of the inference protocol: each carries the HTTP status the V2 REST front end answers with
// (and a gRPC front end would map), so the data plane stays free of any transport.
import { describeValue } from '../errors.js';

export class InferenceError extends Error {
  /** 400 bad request, 401 unauthorized, 404 unknown model/version, 413 too large, 429/503 busy, 504 timeout. */
  readonly status: number;
  /** Seconds a client should wait before retrying (429/503). */
  readonly retryAfter?: number;
  constructor(status: number, message: string, options: { retryAfter?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'InferenceError';
    this.status = status;
    if (options.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }
}

/** 400 with the house message: `Expected <what> for <name> but received <value>`. */
export function badRequest(what: string, name: string, received: unknown): InferenceError {
  return new InferenceError(400, `Expected ${what} for ${name} but received ${describeValue(received)}`);
}

export function notFound(message: string): InferenceError {
  return new InferenceError(404, message);
}
