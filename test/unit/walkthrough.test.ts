/**
 * The Getting Started walkthrough in the manifest: every button runs a command the extension contributes (the
 * template buttons name shipped examples), every step ticks itself off on one of its own commands, and each step shows
 * a screenshot of the product (media/walkthrough/*.png, made by tools/screenshots.mjs). The real VS Code test
 * (test/e2e/ui.e2e.mjs) opens it, runs a step's command and sees the step complete.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { listExamples } from '../../src/extension/configs';

const root = path.join(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

test('the walkthrough: real commands, self-completing steps, own media', () => {
  const commands = new Set<string>(pkg.contributes.commands.map((c: { command: string }) => c.command));
  const [wt, ...more] = pkg.contributes.walkthroughs;
  assert.equal(more.length, 0);
  assert.equal(wt.id, 'distill.gettingStarted');
  assert.ok(commands.has('distill.gettingStarted'), 'a command reopens it');
  const examples = new Set(listExamples(path.join(root, 'examples')).map((e) => e.id));
  const templates: string[] = [];
  const pictures: string[] = [];
  for (const step of wt.steps) {
    assert.doesNotMatch(step.description, /`/, `${step.id}: walkthrough descriptions render backticks literally`);
    const links = [...String(step.description).matchAll(/\(command:([\w.]+)(?:\?([^)]*))?\)/g)];
    assert.ok(links.length > 0, `${step.id}: a button`);
    for (const [, id, args] of links) {
      assert.ok(commands.has(id), `${step.id}: ${id} is contributed`);
      if (args) {
        const parsed = JSON.parse(decodeURIComponent(args));
        assert.ok(Array.isArray(parsed));
        if (id === 'distill.newConfig') templates.push(parsed[0]);
      }
    }
    assert.ok(step.completionEvents.length > 0, `${step.id}: completes itself`);
    for (const ev of step.completionEvents) {
      const m = /^onCommand:([\w.]+)$/.exec(ev);
      assert.ok(m && links.some((l) => l[1] === m[1]), `${step.id}: ${ev} is one of its own buttons' commands`);
    }
    // A screenshot of the product (tools/screenshots.mjs), shipped in the .vsix: a PNG of a readable size and weight.
    assert.deepEqual(
      Object.keys(step.media).sort(),
      ['altText', 'image'],
      `${step.id}: media is one image with alt text`,
    );
    assert.match(step.media.image, /^media\/walkthrough\/[a-z-]+\.png$/, `${step.id}: ${step.media.image}`);
    const png = fs.readFileSync(path.join(root, step.media.image));
    assert.equal(png.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', `${step.media.image} is a PNG`);
    const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
    assert.ok(
      width >= 300 && width <= 1600 && height >= 150 && height <= 1200,
      `${step.media.image}: ${width}×${height}`,
    );
    assert.ok(png.length <= 200 * 1024, `${step.media.image}: ${png.length} bytes (at most 200 KB)`);
    assert.ok(step.media.altText.length > 20, `${step.id}: alt text`);
    pictures.push(step.media.image);
  }
  assert.equal(new Set(pictures).size, wt.steps.length, 'a picture of its own per step');
  // no mock-ups left beside the screenshots
  assert.deepEqual(
    fs.readdirSync(path.join(root, 'media', 'walkthrough')).sort(),
    pictures.map((p) => path.basename(p)).sort(),
  );
  // the four templates of a first run: toy 2-D, digits, an image folder, the GPU-sized one — all shipped
  assert.deepEqual(templates, ['toy2d', 'quickstart', 'images', 'gpu-cifar-like']);
  for (const t of templates) assert.ok(examples.has(t), `examples/${t}.distill.json exists`);
  assert.ok(pkg.activationEvents.includes('onCommand:distill.gettingStarted'));
});
