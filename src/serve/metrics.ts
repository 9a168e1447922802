// Prometheus metrics (prom-client), one registry per server so two servers in a process (tests, an app
// that mounts two handlers) keep their counts apart: requests by model and status, time in the queue,
// compute time and batch size per model, requests in flight, generate requests by model and status and
// the tokens they made, and Node's process metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

import type { BatchObserver } from './batching.js';

const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'model' | 'status'>;
  readonly queueSeconds: Histogram<'model'>;
  readonly computeSeconds: Histogram<'model'>;
  readonly batchSize: Histogram<'model'>;
  readonly inFlight: Gauge<'model'>;
  readonly generateRequests: Counter<'model' | 'status'>;
  readonly generatedTokens: Counter<'model'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'sparq_requests_total', help: 'Inference requests by model and HTTP status', labelNames: ['model', 'status'], registers });
    this.queueSeconds = new Histogram({ name: 'sparq_queue_seconds', help: 'Time a request waited for an instance', labelNames: ['model'], buckets: SECONDS, registers });
    this.computeSeconds = new Histogram({ name: 'sparq_compute_seconds', help: 'Time of one run (a batch)', labelNames: ['model'], buckets: SECONDS, registers });
    this.batchSize = new Histogram({ name: 'sparq_batch_size', help: 'Requests per run', labelNames: ['model'], buckets: [1, 2, 4, 8, 16, 32, 64, 128], registers });
    this.inFlight = new Gauge({ name: 'sparq_inflight_requests', help: 'Inference and generate requests queued or computing', labelNames: ['model'], registers });
    this.generateRequests = new Counter({ name: 'sparq_generate_requests_total', help: 'Generate requests (the generate extension, streamed or not) by model and HTTP status', labelNames: ['model', 'status'], registers });
    this.generatedTokens = new Counter({ name: 'sparq_generated_tokens_total', help: 'Tokens generated (every row, streamed or not)', labelNames: ['model'], registers });
  }

  /** The queue's hooks for one model. */
  observer(model: string): BatchObserver {
    return {
      started: (requests, _rows, queueSeconds) => {
        this.batchSize.observe({ model }, requests);
        for (const s of queueSeconds) this.queueSeconds.observe({ model }, s);
      },
      finished: (seconds) => this.computeSeconds.observe({ model }, seconds),
    };
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
