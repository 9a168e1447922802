// The ops train() and distill() differentiate: a constant of the public API, in a module of its own so
// that `import('sparq')` exports it without loading the training code.

/** The ops train() and distill() can differentiate (documented in the API). */
export const TRAINABLE_OPS = ['MatMul', 'Gemm', 'Add', 'Relu', 'Gelu', 'Sigmoid', 'Tanh', 'LayerNormalization', 'Softmax'] as const;
