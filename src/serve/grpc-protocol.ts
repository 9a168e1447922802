// The Open Inference Protocol's gRPC service (KServe's grpc_predict_v2.proto, package `inference`) as a
// protobuf.js JSON descriptor: no .proto file to ship beside dist/, and proto-loader builds the same
// service definition from it.
import { fromJSON, type PackageDefinition } from '@grpc/proto-loader';

type Namespace = Parameters<typeof fromJSON>[0];

const repeated = (type: string, id: number) => ({ rule: 'repeated', type, id });
const field = (type: string, id: number) => ({ type, id });
const params = (id: number) => ({ keyType: 'string', type: 'InferParameter', id });
const tensor = { name: field('string', 1), datatype: field('string', 2), shape: repeated('int64', 3) };

const DESCRIPTOR = {
  nested: {
    inference: {
      nested: {
        GRPCInferenceService: {
          methods: Object.fromEntries(['ServerLive', 'ServerReady', 'ModelReady', 'ServerMetadata', 'ModelMetadata', 'ModelInfer'].map((m) => [m, { requestType: `${m}Request`, responseType: `${m}Response` }])),
        },
        ServerLiveRequest: { fields: {} },
        ServerLiveResponse: { fields: { live: field('bool', 1) } },
        ServerReadyRequest: { fields: {} },
        ServerReadyResponse: { fields: { ready: field('bool', 1) } },
        ModelReadyRequest: { fields: { name: field('string', 1), version: field('string', 2) } },
        ModelReadyResponse: { fields: { ready: field('bool', 1) } },
        ServerMetadataRequest: { fields: {} },
        ServerMetadataResponse: { fields: { name: field('string', 1), version: field('string', 2), extensions: repeated('string', 3) } },
        ModelMetadataRequest: { fields: { name: field('string', 1), version: field('string', 2) } },
        ModelMetadataResponse: {
          fields: { name: field('string', 1), versions: repeated('string', 2), platform: field('string', 3), inputs: repeated('TensorMetadata', 4), outputs: repeated('TensorMetadata', 5) },
          nested: { TensorMetadata: { fields: tensor } },
        },
        ModelInferRequest: {
          fields: {
            model_name: field('string', 1),
            model_version: field('string', 2),
            id: field('string', 3),
            parameters: params(4),
            inputs: repeated('InferInputTensor', 5),
            outputs: repeated('InferRequestedOutputTensor', 6),
            raw_input_contents: repeated('bytes', 7),
          },
          nested: {
            InferInputTensor: { fields: { ...tensor, parameters: params(4), contents: field('InferTensorContents', 5) } },
            InferRequestedOutputTensor: { fields: { name: field('string', 1), parameters: params(2) } },
          },
        },
        ModelInferResponse: {
          fields: {
            model_name: field('string', 1),
            model_version: field('string', 2),
            id: field('string', 3),
            parameters: params(4),
            outputs: repeated('InferOutputTensor', 5),
            raw_output_contents: repeated('bytes', 6),
          },
          nested: { InferOutputTensor: { fields: { ...tensor, parameters: params(4), contents: field('InferTensorContents', 5) } } },
        },
        InferParameter: {
          oneofs: { parameter_choice: { oneof: ['bool_param', 'int64_param', 'string_param', 'double_param', 'uint64_param'] } },
          fields: { bool_param: field('bool', 1), int64_param: field('int64', 2), string_param: field('string', 3), double_param: field('double', 4), uint64_param: field('uint64', 5) },
        },
        InferTensorContents: {
          fields: {
            bool_contents: repeated('bool', 1),
            int_contents: repeated('int32', 2),
            int64_contents: repeated('int64', 3),
            uint_contents: repeated('uint32', 4),
            uint64_contents: repeated('uint64', 5),
            fp32_contents: repeated('float', 6),
            fp64_contents: repeated('double', 7),
            bytes_contents: repeated('bytes', 8),
          },
        },
      },
    },
  },
};

/** The package definition grpc-js loads: snake_case fields, int64 as JS numbers, oneofs named. */
export function inferenceProtocol(): PackageDefinition {
  return fromJSON(DESCRIPTOR as Namespace, { keepCase: true, longs: Number, defaults: true, oneofs: true });
}
