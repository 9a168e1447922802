// The demo's attribution panel: integrated gradients of the dense LeNet on the first few held-out
// digits, one per class where possible, each drawn beside the digit (red: pixels that raise the predicted
// class's logit, blue: pixels that lower it), with the completeness gap of each.
import type { MnistSplit } from '../../data/mnist.js';
import type { Model } from '../../model.js';
import type { ReportSection } from '../../report/html-report.js';
import { heatmapFor, type Heatmap } from '../../report/heatmap.js';
import { Tensor } from '../../tensor.js';

export async function digitAttributions(model: Model, test: MnistSplit, count: number): Promise<{ section: ReportSection; gaps: number[] }> {
  const { explain } = await import('../../explain/explain.js');
  const labels = test.labels.data;
  // The first test digit of each class 0, 1, 2, ... up to `count`.
  const picks: number[] = [];
  for (let c = 0; picks.length < count && c < 10; c++) {
    const i = labels.indexOf(c);
    if (i >= 0) picks.push(i);
  }
  const heatmaps: Heatmap[] = [];
  const rows: (string | number)[][] = [];
  const gaps: number[] = [];
  for (const i of picks) {
    const x = new Tensor('float32', test.inputs.data.slice(i * 784, (i + 1) * 784), [1, 784]);
    const e = await explain(model, { [model.inputs[0].name]: x }, { method: 'integrated-gradients', steps: 50 });
    const a = Object.values(e.attributions)[0];
    const sum = a.data.reduce((s, v) => s + v, 0);
    const gap = Math.abs(e.delta ?? 0) / Math.max(1e-12, Math.abs(sum - (e.delta ?? 0)));
    gaps.push(gap);
    heatmaps.push(heatmapFor(`digit ${labels[i]} → predicted ${e.target.index}`, a.data, a.dims, x));
    rows.push([String(labels[i]), String(e.target.index), e.value, sum, 100 * gap]);
  }
  return {
    gaps,
    section: {
      title: 'Why the dense LeNet says what it says: integrated gradients on test digits',
      text: "Each digit (grey) beside its attributions for the predicted class: red pixels raise that class's logit, blue ones lower it (explain(), 50 Gauss-Legendre steps from a black image, gradients from sparq's training autograd). The attributions add up to the change of the logit from the black image to the digit, up to the completeness gap.",
      heatmaps,
      table: { columns: ['digit', 'predicted', 'logit', 'sum of attributions', 'completeness gap %'], rows },
    },
  };
}
