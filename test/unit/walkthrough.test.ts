/**
 * The Getting Started walkthrough in the manifest: every button runs a command the extension contributes (the
 * template buttons name shipped examples), every step ticks itself off on one of its own commands, and its media are
 * our own well-formed SVGs that only use the editor's theme colours (no remote content). The real VS Code test
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
    const svg = fs.readFileSync(path.join(root, step.media.svg), 'utf8');
    assert.ok(step.media.altText.length > 20, `${step.id}: alt text`);
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.doesNotMatch(svg, /https?:\/\/(?!www\.w3\.org\/2000\/svg)|<script|<image|href=/i, `${step.media.svg}: no remote or embedded content`);
    assert.match(svg, /var\(--vscode-/, `${step.media.svg}: follows the colour theme`);
    // VS Code shows svg media in a page whose CSP allows only its own nonce'd styles: colours must be presentation
    // attributes (fill="var(--vscode-…)"), not a <style> element or classes (measured: those render all black).
    assert.doesNotMatch(svg, /<style|class=|style=/, `${step.media.svg}: no styles the walkthrough's CSP would block`);
    // balanced tags (well-formed enough for the editor's SVG renderer)
    const opens = (svg.match(/<(?!\/|\?|!)[a-z]+[^>]*[^/]>|<[a-z]+>/g) ?? []).length;
    const closes = (svg.match(/<\/[a-z]+>/g) ?? []).length;
    assert.equal(opens, closes, `${step.media.svg}: ${opens} open vs ${closes} close tags`);
  }
  // the four templates of a first run: toy 2-D, digits, an image folder, the GPU-sized one — all shipped
  assert.deepEqual(templates, ['toy2d', 'quickstart', 'images', 'gpu-cifar-like']);
  for (const t of templates) assert.ok(examples.has(t), `examples/${t}.distill.json exists`);
  assert.ok(pkg.activationEvents.includes('onCommand:distill.gettingStarted'));
});
