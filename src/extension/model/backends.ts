/**
 * "Distill: Show Backends": the worker's BackendsReport (the data behind `distill backends`) as a markdown document
 * — every backend, available or not and why, what `auto` picks, the WebGPU adapter with its limits, the CUDA devices,
 * how to install what is missing, and what the distill.backend setting means for runs started from this editor.
 * No vscode, no tfjs (the extension never loads it; the worker probes).
 */
import type { Backend, BackendsReport } from '../../protocol';

type Status = BackendsReport['backends'][number];

const LABEL: Record<Status['name'], string> = {
  'tensorflow-gpu': 'tensorflow-gpu (tfjs-node-gpu, CUDA)',
  webgpu: 'webgpu (Dawn)',
  tensorflow: 'tensorflow (tfjs-node, CPU)',
  wasm: 'wasm',
  cpu: 'cpu',
};

/** A table cell: no line breaks, pipes escaped. */
function cell(s: string): string {
  return s.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(bytes >= 2 ** 20 ? 0 : 2)} MiB (${bytes.toLocaleString('en-US')} bytes)`;
}

function deviceOf(b: Status): string {
  if (b.adapter?.software) return 'emulated GPU';
  return b.device === 'gpu' ? 'GPU' : 'CPU';
}

/** What the distill.backend setting (when the user set it) means for runs started from this editor. */
export function settingSentence(r: BackendsReport, setting: Backend | undefined): string {
  if (setting === undefined) {
    return `The \`distill.backend\` setting is not set: each run uses its config's \`backend\` (default \`auto\`, which picks **${r.auto}** here).`;
  }
  if (setting === 'auto')
    return `The \`distill.backend\` setting is \`auto\`: runs started from this editor use **${r.auto}**.`;
  const matches = r.backends.filter((b) => b.choice === setting);
  const usable = matches.find((b) => b.available);
  if (!usable) {
    return (
      `⚠ The \`distill.backend\` setting is \`${setting}\`, which is **not available** here: runs started from this editor will fail ` +
      `until it is installed (see below) or the setting is changed.`
    );
  }
  const warn = usable.adapter?.software
    ? ' — on a software adapter, emulated on the CPU (slower than wasm; for checking correctness)'
    : '';
  return `The \`distill.backend\` setting is \`${setting}\`: runs started from this editor use **${usable.name}**${warn}.`;
}

export function backendsMarkdown(r: BackendsReport, opts: { setting?: Backend; probedAt?: Date } = {}): string {
  const out: string[] = [];
  out.push('# Distill: backends on this machine', '');
  out.push(
    `Worker machine: \`${r.platform}\`, Node ${r.node}${opts.probedAt ? ` · probed ${opts.probedAt.toISOString().replace('T', ' ').slice(0, 19)} UTC` : ''}.`,
    '',
  );
  out.push(
    `\`auto\` picks **${r.auto}** (the fastest real device: CUDA, then a hardware WebGPU adapter, then tfjs-node, wasm, cpu; never an emulated GPU).`,
    '',
  );
  out.push(settingSentence(r, opts.setting), '');

  out.push('| | backend | runs on | choose with | here |', '|---|---|---|---|---|');
  for (const b of r.backends) {
    out.push(
      `| ${b.available ? '✔' : '✘'} | ${LABEL[b.name]}${b.name === r.auto ? ' — **auto**' : ''} | ${deviceOf(b)} | \`${b.choice}\` | ${cell(b.detail)} |`,
    );
  }
  out.push('');

  const wg = r.backends.find((b) => b.name === 'webgpu');
  out.push('## WebGPU adapter', '');
  if (wg?.adapter) {
    const a = wg.adapter;
    out.push('| | |', '|---|---|');
    out.push(`| description | ${cell(a.description || '—')} |`);
    out.push(
      `| vendor · architecture · device | ${cell([a.vendor, a.architecture, a.device].map((x) => x || '—').join(' · '))} |`,
    );
    out.push(
      `| kind | ${a.software ? 'software adapter, emulated on the CPU: `auto` skips it, `webgpu` uses it with a warning' : 'hardware GPU'} |`,
    );
    out.push(`| max buffer size | ${mib(a.limits.maxBufferSize)} |`);
    out.push(`| max storage buffer binding size | ${mib(a.limits.maxStorageBufferBindingSize)} |`);
    out.push(
      `| max compute workgroup storage | ${a.limits.maxComputeWorkgroupStorageSize.toLocaleString('en-US')} bytes |`,
    );
    out.push(`| features | ${cell(a.features.length ? a.features.join(', ') : '—')} |`);
  } else {
    out.push(`No adapter: ${wg ? wg.detail : 'webgpu was not probed'}`);
  }
  out.push('');

  const cuda = r.backends.find((b) => b.name === 'tensorflow-gpu');
  out.push('## CUDA devices', '');
  if (cuda?.cudaDevices?.length) for (const d of cuda.cudaDevices) out.push(`- ${d}`);
  else out.push('None found (no NVIDIA driver exposes a GPU in /proc/driver/nvidia/gpus).');
  out.push('');

  const missing = r.backends.filter((b) => b.fix);
  out.push('## How to get what is missing', '');
  if (missing.length) for (const b of missing) out.push(`- **${b.name}**: ${b.fix}`);
  else out.push('Nothing: every backend is available.');
  out.push('');
  out.push(
    'Choose a backend with the `distill.backend` setting (it overrides the config for runs started from the editor), ' +
      '`"backend"` in a `*.distill.json`, or `distill run --backend auto|webgpu|tensorflow|wasm|cpu`. ' +
      'Run **Distill: Show Backends** again after installing something.',
    '',
  );
  return out.join('\n');
}

/** One line for the Distill log: "auto → wasm; available: webgpu (emulated GPU), wasm, cpu; missing: …". */
export function backendsLogLine(r: BackendsReport): string {
  const ok = r.backends.filter((b) => b.available).map((b) => `${b.name} (${deviceOf(b)})`);
  const no = r.backends.filter((b) => !b.available).map((b) => b.name);
  return `backends on ${r.platform}: auto → ${r.auto}; available: ${ok.join(', ') || 'none'}${no.length ? `; not available: ${no.join(', ')}` : ''}`;
}

/** A run's failure that Show Backends helps with: a backend unavailable, a GPU lost or out of memory, Dawn missing. */
export function mentionsBackend(message: string | undefined): boolean {
  return /\bbackend\b|webgpu|\bDawn\b|adapter|\bGPU\b|tfjs-node|CUDA|Vulkan/i.test(message ?? '');
}
