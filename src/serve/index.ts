// sparq/serve: the model server (import it from 'sparq/serve' so that `import 'sparq'` never loads it).
export { serve, modelHandler, DEFAULTS, type ServeOptions, type HandlerSetup, type ModelHandler, type ModelServer, type ModelsOption } from './server.js';
export { createHandler, type Handler, type HandlerOptions } from './http.js';
export { DataPlane, EXTENSIONS, type ModelMetadata } from './dataplane.js';
export { InferenceError } from './errors.js';
export { ModelRegistry, defaultInstances, defaultThreads, type InstanceOptions, type ServedModel } from './registry.js';
export { findModels, type ModelSource } from './repository.js';
export { ServeMetrics } from './metrics.js';
export type { BatchingOptions } from './batching.js';
