// The demo's LeNet-300-100 on the bundled MNIST digits: trained once (or read from the cache), then
// pruned to 90% with gradual magnitude pruning and fine-tuning. Settings are the training tests' ones.
import type { MnistSplit } from '../../data/mnist.js';
import { mlp } from '../../train/mlp.js';
import type { EpochStats } from '../../train/options.js';
import { train } from '../../train/train.js';
import { readCached, writeCached } from './cache.js';

const VERSION = 'v1';

export interface TrainedLenet {
  bytes: Uint8Array;
  cached: boolean;
  seconds: number;
}

async function cachedOrTrain(name: string, retrain: boolean, make: () => Promise<Uint8Array>): Promise<TrainedLenet> {
  const hit = retrain ? undefined : readCached(name);
  if (hit) return { bytes: hit, cached: true, seconds: 0 };
  const t0 = performance.now();
  const bytes = await make();
  writeCached(name, bytes);
  return { bytes, cached: false, seconds: (performance.now() - t0) / 1000 };
}

export function denseLenet(trainSplit: MnistSplit, retrain: boolean, onEpoch: (s: EpochStats) => void): Promise<TrainedLenet> {
  return cachedOrTrain(`lenet-300-100-dense-${VERSION}.onnx`, retrain, async () => {
    const { model } = await train(mlp({ inputs: 784, hidden: [300, 100], outputs: 10, seed: 1 }), trainSplit, {
      epochs: 12,
      batchSize: 128,
      learningRate: 2e-3,
      schedule: 'cosine',
      optimizer: { type: 'adam', weightDecay: 1e-4 },
      seed: 1,
      onEpoch,
    });
    return model.toOnnx();
  });
}

export function prunedLenet(dense: Uint8Array, trainSplit: MnistSplit, retrain: boolean, onEpoch: (s: EpochStats) => void): Promise<TrainedLenet> {
  return cachedOrTrain(`lenet-300-100-pruned90-${VERSION}.onnx`, retrain, async () => {
    const { model } = await train(dense, trainSplit, { epochs: 10, batchSize: 128, learningRate: 1e-3, schedule: 'cosine', seed: 2, prune: { sparsity: 0.9 }, onEpoch });
    return model.toOnnx();
  });
}
