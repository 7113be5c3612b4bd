/**
 * `npm run bench:latent [-- --size 32 --runs 3 --threads 1 --channels 32,64]`: what latent space buys at one image
 * size, pixel vs latent, with the default autoencoder — the numbers of docs/results.md's "Pixel vs latent cost" table, measured by
 * the same code as `distill eval`'s section (src/engine/eval/latent-cost.ts; untrained weights: the cost does not
 * depend on them). Prints min–max over the runs, so a shared machine's spread shows.
 */
import { ensureBackend } from '../src/engine';
import { buildAutoencoder } from '../src/engine/nn/autoencoder';
import { makeCodec } from '../src/engine/method/latent-codec';
import { resolveConfig } from '../src/engine/run/config';
import { LatentCost, measureLatentCost } from '../src/engine/eval/latent-cost';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const size = Number(flag('size', '32'));
  const runs = Number(flag('runs', '3'));
  const threads = Number(flag('threads', '1'));
  const channels = flag('channels', '32,64').split(',').map(Number);
  const info = await ensureBackend('wasm', threads);
  const cfg = resolveConfig({
    data: { kind: 'folder', path: '.', imageSize: size, channels: 3 },
    model: { kind: 'unet', space: 'latent', channels },
  });
  const results: LatentCost[] = [];
  for (let r = 0; r < runs; r++) {
    const codec = makeCodec(buildAutoencoder(cfg.autoencoder!, [size, size, 3], r), 1);
    try {
      results.push(
        await measureLatentCost(
          cfg,
          codec,
          10,
          [
            { label: 'guided teacher 256 steps', nfe: 512 },
            { label: 'student 4 steps', nfe: 4 },
          ],
          { batch: 16 },
        ),
      );
    } finally {
      codec.dispose();
    }
    process.stderr.write(`run ${r + 1}/${runs} done\n`);
  }
  const span = (f: (c: LatentCost) => number, d = 2) => {
    const v = results.map(f);
    return `${Math.min(...v).toFixed(d)}–${Math.max(...v).toFixed(d)}`;
  };
  const c = results[0];
  const mf = (v: number) => (v / 1e6).toFixed(1);
  console.log(
    `wasm ${info.version}, ${info.threads} thread(s); ${size}×${size}×3 images → ${c.latentShape.join('×')} latents; U-Net ${channels.join('/')}; autoencoder ${cfg.autoencoder!.channels.join('/')}; ${runs} runs (min–max)`,
  );
  console.log('| | pixel space | latent space |');
  console.log('| --- | ---: | ---: |');
  console.log(
    `| one network evaluation | ${mf(c.flops.pixelNfe)} MFLOP; ${span((x) => x.ms.pixelNfe)} ms | ${mf(c.flops.latentNfe)} MFLOP; ${span((x) => x.ms.latentNfe)} ms |`,
  );
  console.log(`| decoder, once per sample | – | ${mf(c.flops.decode)} MFLOP; ${span((x) => x.ms.decode)} ms |`);
  for (let i = 0; i < c.perSample.length; i++) {
    const p = c.perSample[i];
    console.log(
      `| ${p.label}, per sample | ${mf(p.pixelFlops)} MFLOP; ${span((x) => x.perSample[i].pixelMs, 1)} ms | ${mf(p.latentFlops)} MFLOP; ${span((x) => x.perSample[i].latentMs, 1)} ms |`,
    );
  }
  console.log(
    `| teacher training step, batch ${c.trainStep.batch} | ${(c.trainStep.pixelFlops / 1e9).toFixed(1)} GFLOP; ${span((x) => x.trainStep.pixelMs, 0)} ms | ${(c.trainStep.latentFlops / 1e9).toFixed(1)} GFLOP; ${span((x) => x.trainStep.latentMs, 0)} ms |`,
  );
  console.log(`encoder: ${mf(c.flops.encode)} MFLOP per image`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
