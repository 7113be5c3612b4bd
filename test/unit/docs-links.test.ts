// The user guide and docs/ hold together: the README stays a guide (≤ 300 lines), every relative link of README.md,
// CHANGELOG.md and docs/*.md points at a file that exists and, with a #fragment, at a heading that exists there, and
// every section of docs/method.md that a source comment cites by name is a heading of that page.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';

const REPO = path.resolve(__dirname, '../..');
const read = (rel: string) => fs.readFileSync(path.join(REPO, rel), 'utf8');
const pages = [
  'README.md',
  'CHANGELOG.md',
  ...fs
    .readdirSync(path.join(REPO, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
// The dashboard picture is taken from the real-VS-Code run (test/e2e) when a release is packaged.
const GENERATED = new Set(['media/screenshots/dashboard.png']);

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function headings(text: string): string[] {
  const out: string[] = [];
  let fence = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    else if (!fence && /^#{1,6} /.test(line)) out.push(line.replace(/^#+ /, ''));
  }
  return out;
}

describe('documentation', () => {
  it('README.md is a guide of at most 300 lines', () => {
    const lines = read('README.md').split('\n').length;
    assert.ok(lines <= 300, `README.md has ${lines} lines`);
  });

  it('every relative link and picture resolves, anchors included', () => {
    let checked = 0;
    for (const page of pages) {
      const text = read(page).replace(/```[\s\S]*?```/g, '');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1];
        if (/^[a-z]+:/.test(target)) continue;
        const [file, frag] = target.split('#');
        const rel = file ? path.normalize(path.join(path.dirname(page), file)) : page;
        if (GENERATED.has(rel.split(path.sep).join('/'))) continue;
        assert.ok(fs.existsSync(path.join(REPO, rel)), `${page}: link to ${target}: ${rel} does not exist`);
        if (frag) {
          const anchors = headings(read(rel)).map(anchor);
          assert.ok(anchors.includes(frag), `${page}: link to ${target}: no heading with anchor #${frag} in ${rel}`);
        }
        checked++;
      }
    }
    assert.ok(checked > 30, `only ${checked} links checked`);
  });

  it('every docs/method.md section a source comment cites exists', () => {
    const sections = new Set(headings(read('docs/method.md')));
    const cited = new Map<string, string>();
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(path.join(REPO, dir), { withFileTypes: true })) {
        const rel = path.join(dir, e.name);
        if (e.isDirectory()) walk(rel);
        else if (/\.(ts|mjs|js)$/.test(e.name)) {
          // docs/method.md, "Section" or docs/method.md, "A", "B", "C"
          for (const m of read(rel).matchAll(/docs\/method\.md, ((?:"[^"]+"(?:, )?)+)/g)) {
            for (const s of m[1].matchAll(/"([^"]+)"/g)) cited.set(s[1], rel);
          }
        }
      }
    };
    walk('src');
    assert.ok(cited.size >= 8, `expected the method's sections to be cited, found ${[...cited.keys()].join(', ')}`);
    for (const [section, file] of cited)
      assert.ok(sections.has(section), `${file} cites docs/method.md, "${section}", which is not a heading there`);
  });
});
