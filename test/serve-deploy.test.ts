// deploy/: the Dockerfile and the Kubernetes / KServe manifests, parsed with a real YAML parser and
// checked against the CLI's actual flags: the args parse as `sparq serve` arguments, the ports the
// server listens on are the ones the manifests expose and probe, the probes hit the V2 health routes.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

import { parse } from '../src/cli/args.js';
import { serveCommand } from '../src/cli/commands/serve.js';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const deploy = new URL('../deploy/', import.meta.url).pathname;
function docs(sub: string): Doc[] {
  return readdirSync(join(deploy, sub))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) =>
      parseAllDocuments(readFileSync(join(deploy, sub, f), 'utf8')).map((d) => {
        expect(d.errors, f).toEqual([]);
        return d.toJS() as Doc;
      }),
    );
}

/** The args as `sparq serve` parses them: throws on a flag the CLI does not have. */
function serveArgs(args: string[]): { port: number; host: string; positionals: string[] } {
  const parsed = parse(serveCommand, args);
  expect(parsed.positionals.length).toBeGreaterThan(0);
  return { port: Number(parsed.values.port ?? 8000), host: String(parsed.values.host ?? '127.0.0.1'), positionals: parsed.positionals };
}

function checkProbes(container: Doc, port: number): void {
  const portOf = (p: number | string) => (typeof p === 'number' ? p : container.ports.find((x: Doc) => x.name === p)?.containerPort);
  expect(container.livenessProbe.httpGet.path).toBe('/v2/health/live');
  expect(container.readinessProbe.httpGet.path).toBe('/v2/health/ready');
  expect(portOf(container.livenessProbe.httpGet.port)).toBe(port);
  expect(portOf(container.readinessProbe.httpGet.port)).toBe(port);
}

describe('deploy/', () => {
  it('the Dockerfile builds in two stages and runs `sparq serve` on the port it exposes', () => {
    const text = readFileSync(join(deploy, 'Dockerfile'), 'utf8');
    const froms = text.match(/^FROM .+$/gm) ?? [];
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(froms[0]).toMatch(/ AS build$/);
    expect(text).toMatch(/COPY --from=build .*sparq\.node/);
    const json = (directive: string) => JSON.parse(new RegExp(`^${directive} (\\[.*\\])$`, 'm').exec(text)![1]) as string[];
    const entry = json('ENTRYPOINT');
    expect(entry.slice(-2)).toEqual(['bin/sparq.js', 'serve']);
    const { port, host } = serveArgs(json('CMD'));
    expect(host).toBe('0.0.0.0');
    expect(text).toMatch(new RegExp(`^EXPOSE ${port}$`, 'm'));
    expect(text).toContain(`127.0.0.1:${port}/v2/health/ready`);
  });

  it('Deployment + Service + HPA: args, ports and V2 health probes agree', () => {
    const all = docs('k8s');
    const byKind = (k: string) => all.find((d) => d.kind === k)!;
    const deployment = byKind('Deployment');
    const container = deployment.spec.template.spec.containers[0];
    const { port, host } = serveArgs(container.args);
    expect(host).toBe('0.0.0.0');
    expect(container.ports.map((p: Doc) => p.containerPort)).toContain(port);
    checkProbes(container, port);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(10);
    expect(deployment.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels);
    const service = byKind('Service');
    expect(service.spec.selector).toEqual(deployment.spec.template.metadata.labels);
    const target = service.spec.ports[0].targetPort;
    expect(typeof target === 'number' ? target : container.ports.find((p: Doc) => p.name === target).containerPort).toBe(port);
    const hpa = byKind('HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
    expect(container.resources.requests.cpu).toBeDefined(); // CPU utilisation needs a request
  });

  it('KServe ServingRuntime + InferenceService speak V2 on the port the args give', () => {
    const all = docs('kserve');
    const runtime = all.find((d) => d.kind === 'ServingRuntime')!;
    const service = all.find((d) => d.kind === 'InferenceService')!;
    expect(runtime.spec.protocolVersions).toContain('v2');
    const container = runtime.spec.containers[0];
    expect(container.name).toBe('kserve-container');
    const { port, positionals } = serveArgs(container.args);
    expect(positionals).toEqual(['/mnt/models']); // where KServe's storage initializer puts the model
    expect(container.ports[0].containerPort).toBe(port);
    checkProbes(container, port);
    const model = service.spec.predictor.model;
    expect(model.protocolVersion).toBe('v2');
    expect(model.runtime).toBe(runtime.metadata.name);
    expect(runtime.spec.supportedModelFormats.map((f: Doc) => f.name)).toContain(model.modelFormat.name);
  });
});
