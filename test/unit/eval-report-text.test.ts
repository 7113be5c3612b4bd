/**
 * What `distill eval` writes and prints from a report's numbers (no sampling): an older report.json (runs/qs2, kept
 * as test/fixtures/eval-report.json, written before consistency students, the Pareto front and the training cost)
 * still renders — report.md, the plots and the CLI's lines — and a report with both stage-2 methods names each
 * method, its steps and NFE, its Pareto front and which method is cheaper to train.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { formatEvalReport } from '../../src/cli/eval-summary';
import { buildReportView } from '../../src/extension/panels/report';
import { paretoByW } from '../../src/engine/eval/pareto';
import { decodePng } from '../../src/engine/io/png';
import { logTicks, plotPanels } from '../../src/engine/eval/plot';
import type { EvalReport, EvalRow } from '../../src/engine/tasks/evaluate';
import { reportMarkdown, reportPlots } from '../../src/engine/tasks/evaluate';

const OLD = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'eval-report.json'), 'utf8'),
) as EvalReport;

/** The old report with a consistency student beside each progressive one (FID 0.9× theirs) and the new fields. */
function bothMethods(): EvalReport {
  const rep = structuredClone(OLD);
  const extra: EvalRow[] = rep.rows
    .filter((r) => r.model === 'progressive')
    .map((r) => ({ ...r, model: 'consistency', unit: `consistency-${r.steps}`, fid: r.fid! * 0.9 }));
  rep.rows.push(...extra);
  rep.paretoByW = paretoByW(rep.rows, rep.w, 'fid', (r) => r.fid);
  rep.pareto = rep.paretoByW[rep.w.indexOf(2)];
  rep.trainingCost = [
    { method: 'progressive', steps: 8, unit: 'progressive-16-8', flops: 2e12, seconds: 100 },
    { method: 'progressive', steps: 4, unit: 'progressive-8-4', flops: 4e12, seconds: 210 },
    { method: 'consistency', steps: 8, unit: 'consistency-8', flops: 1e12 },
    { method: 'consistency', steps: 4, unit: 'consistency-4', flops: 2e12 },
  ];
  return rep;
}

describe('report text and plots from stored numbers', () => {
  it('an older report.json renders: its students table, per-w tables and plots, no Pareto or cost sections', () => {
    assert.equal(OLD.pareto, undefined);
    const md = reportMarkdown(OLD);
    assert.match(md, /## Distilled students vs the 256-step teacher \(DDIM samplers\)/);
    assert.match(md, /\| 0 \| progressive \| 4 \| 4 \| \*\*[\d.]+\*\* \([\d.]+×\) \|/);
    assert.match(md, /\| progressive student \(progressive-8-4\) \| DDIM \| 4 \| 4 \|/);
    assert.ok(!md.includes('## Training cost') && !md.includes('## Quality vs NFE'));
    const plots = reportPlots(OLD);
    assert.deepEqual([...plots.keys()], ['quality-vs-nfe.png', 'quality-vs-w.png', 'accuracy-vs-w.png']);
    const png = decodePng(plots.get('quality-vs-nfe.png')!);
    assert.ok(png.width >= 800 && png.height >= 300, `${png.width}×${png.height}`);
    const lines = formatEvalReport(OLD);
    assert.equal(lines[1], "classifier-FID (lower is better), DDIM; (×): ÷ the 256-step teacher's:");
    const t = OLD.rows.find((r) => r.w === 0 && r.model === 'teacher' && r.steps === 256)!;
    const s = OLD.rows.find((r) => r.w === 0 && r.model === 'progressive' && r.steps === 4 && r.sampler === 'ddim')!;
    const row = lines.find((l) => /^ {2}progressive student\s+4\s+4\s/.test(l))!;
    assert.ok(row.includes(`(${(s.fid! / t.fid!).toFixed(2)}×)`), row);
    assert.ok(!lines.some((l) => /Pareto|FLOPs/.test(l)));
  });

  it('both methods: a row per w, method and steps with NFE; the Pareto front; the cheaper method per step count', () => {
    const rep = bothMethods();
    const md = reportMarkdown(rep);
    const section = md.split('## Distilled students vs the 256-step teacher')[1].split('\n## ')[0];
    const rows = section.split('\n').filter((l) => /^\| \d/.test(l));
    assert.deepEqual(
      rows.filter((l) => l.startsWith('| 0 |')).map((l) => l.split(' | ').slice(1, 4).join(' ')),
      ['progressive 8 8', 'progressive 4 4', 'consistency 8 8', 'consistency 4 4'],
    );
    assert.equal(rows.length, 4 * rep.w.length);
    assert.match(md, /\| consistency student \(consistency-4\) \| DDIM \| 4 \| 4 \|/);
    assert.match(md, /## Training cost per method/);
    assert.match(md, /\| progressive \| 4 \| progressive-8-4 \| 4\.00e\+12 \| 210\.0 \|/);
    assert.match(md, /\| consistency \| 4 \| consistency-4 \| 2\.00e\+12 \| – \|/);
    assert.match(md, /- 4 steps: consistency with 0\.50× the FLOPs of progressive \(2\.00e\+12 vs 4\.00e\+12\)/);
    assert.match(md, /## Quality vs NFE: the Pareto front \(classifier-FID, DDIM\)/);
    // consistency beats progressive at the same NFE everywhere, so no progressive student is on any front
    for (const set of rep.paretoByW!) {
      assert.ok(!set.front.some((p) => p.model === 'progressive'), JSON.stringify(set.front));
      assert.ok(set.front.some((p) => p.model === 'consistency'));
    }
    const lines = formatEvalReport(rep);
    assert.deepEqual(
      lines
        .filter((l) => /^ {2}[a-z]/.test(l) && !l.startsWith('  Pareto') && !l.startsWith('  fewer'))
        .map((l) =>
          l
            .trim()
            .split(/\s{2,}/)
            .slice(0, 3)
            .join('|'),
        ),
      [
        'model|steps|NFE',
        'progressive student|8|8',
        'progressive student|4|4',
        'consistency student|8|8',
        'consistency student|4|4',
        'teacher|256|512',
        'teacher|8|16',
        'teacher|4|8',
      ],
    );
    assert.ok(
      lines.includes(
        '  Pareto front at w = 1: consistency student 4 steps (4 NFE, 87.06) → teacher 256 steps (512 NFE, 82.83)',
      ),
      lines.join('\n'),
    );
    assert.ok(lines.includes('    8 steps: consistency with 0.50× the FLOPs of progressive (1.00e+12 vs 2.00e+12)'));
    const plots = reportPlots(rep);
    assert.ok(plots.has('quality-vs-nfe.png') && plots.has('quality-vs-w.png'));
  });

  it("with an exact teacher: each row's FID to a second set of exact samples beside the floor and its ratio", () => {
    const rep = bothMethods();
    rep.exact = {
      referenceSteps: 1024,
      floorSeed: 1_000_003,
      floor: rep.w.map((w) => ({ w, swd: null, fid: 20 })),
      source: 'data',
    };
    for (const r of rep.rows) {
      r.mseToExact = r.model === 'teacher' ? 0.001 : 0.002 * (1 + (r.model === 'consistency' ? 1 : 0));
      r.distToExact = r.model === 'teacher' ? 20 : r.model === 'consistency' ? 30 : 21;
    }
    const md = reportMarkdown(rep);
    const section = md.split('## Distance to the exact teacher (1024 DDIM steps)')[1].split('\n## ')[0];
    assert.match(section, /\| w \| model \| steps \| NFE \| MSE to exact ↓ \| FID to exact ↓ \| floor \| × floor ↓ \|/);
    assert.match(
      section,
      /\| 0 \| progressive student \(progressive-8-4\) \| 4 \| 4 \| 0\.0020 \| 21\.00 \| 20\.00 \| 1\.05× \|/,
    );
    assert.match(
      section,
      /\| 2 \| consistency student \(consistency-4\) \| 4 \| 4 \| 0\.0040 \| 30\.00 \| 20\.00 \| 1\.50× \|/,
    );
    const lines = formatEvalReport(rep);
    const at = lines.findIndex((l) => l.startsWith('classifier-FID to a second set of exact samples'));
    assert.ok(at > 0, lines.join('\n'));
    const row = lines.slice(at).find((l) => /^ {2}progressive student +4 /.test(l))!;
    assert.deepEqual(row.trim().split(/\s{2,}/), [
      'progressive student',
      '4',
      '4',
      ...rep.w.map(() => '21.00 (1.05×)'),
    ]);
  });

  it('a log y axis: 1-2-5 ticks per decade, and a power law in NFE drawn as a straight line', () => {
    assert.deepEqual(logTicks(7, 250), [10, 20, 50, 100, 200]);
    assert.deepEqual(logTicks(0.001, 100), [0.001, 0.01, 0.1, 1, 10, 100]);
    // y = 10·x^log2(10): one decade per doubling, a straight line on log x and log y axes, a bent one on a linear y
    const red = [255, 0, 0] as const;
    const bend = (logY: boolean) => {
      const png = decodePng(
        plotPanels([
          {
            title: 'T',
            xLabel: 'X',
            yLabel: 'Y',
            logX: true,
            logY,
            series: [{ name: 's', color: red, points: [1, 2, 4].map((x) => ({ x, y: 10 * 10 ** Math.log2(x) })) }],
          },
        ]),
      );
      // the centre row of the red pixels in each column of the panel (the legend is below its 320 rows), then the largest distance from the chord between the ends
      const centre: [number, number][] = [];
      for (let x = 0; x < png.width; x++) {
        const ys: number[] = [];
        for (let y = 0; y < 320; y++) {
          const i = (y * png.width + x) * png.channels;
          if (png.data[i] === 255 && png.data[i + 1] === 0 && png.data[i + 2] === 0) ys.push(y);
        }
        if (ys.length) centre.push([x, (Math.min(...ys) + Math.max(...ys)) / 2]);
      }
      const [[x0, y0], [x1, y1]] = [centre[4], centre[centre.length - 5]];
      return Math.max(...centre.slice(4, -4).map(([x, y]) => Math.abs(y - (y0 + ((y1 - y0) * (x - x0)) / (x1 - x0)))));
    };
    assert.ok(bend(true) < 2.5, `log y: ${bend(true)} px off the straight line`);
    assert.ok(bend(false) > 20, `linear y: ${bend(false)} px`);
  });

  it('the report panel reads what the engine writes: the front at one w and the training cost, JSON round trip', () => {
    const rep = JSON.parse(JSON.stringify(bothMethods())) as EvalReport;
    const view = buildReportView(rep, () => []);
    const set = rep.pareto!;
    assert.equal(view.pareto!.w, 2);
    assert.equal(view.pareto!.measure, 'fid');
    assert.equal(view.pareto!.points.length, set.points.length);
    const key = (method: string | undefined, steps: number | undefined, nfe: number, value: number) =>
      `${method} ${steps} ${nfe} ${value}`;
    assert.deepEqual(
      view
        .pareto!.points.filter((p) => p.front)
        .map((p) => key(p.method, p.steps, p.nfe, p.quality))
        .sort(),
      set.front.map((p) => key(p.model, p.steps, p.nfe, p.value)).sort(),
    );
    assert.deepEqual(
      view.trainingCost!.map((c) => [c.method, c.steps, c.flops, c.seconds]),
      rep.trainingCost!.map((c) => [c.method, c.steps, c.flops, c.seconds]),
    );
  });
});
