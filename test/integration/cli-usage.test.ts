/**
 * The `distill` command's help, version and usage errors (the bundled dist/cli.js in a child process), the typed
 * argument parser behind them, and bin/distill.js before a build. Nothing here trains or loads the engine.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  backendOption,
  flag,
  HELP,
  numberList,
  parseArgs,
  required,
  text,
  threadsOption,
  UnknownOptionError,
  UsageError,
} from '../../src/cli/args';
import { BACKENDS } from '../../src/protocol';

const REPO = path.resolve(__dirname, '..', '..');
const CLI = path.join(REPO, 'dist', 'cli.js');
const VERSION = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-usage-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function distill(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: 'utf8', timeout: 60_000 });
}

const COMMANDS = ['run', 'resume', 'sweep', 'sample', 'edit', 'list', 'export', 'eval', 'backends', 'help', 'version'];

before(() => {
  if (!fs.existsSync(CLI)) {
    const r = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
});

describe('distill --help and --version', () => {
  it('--help, -h and help print the overview of every command on stdout and exit 0; no arguments prints it and exits 2', () => {
    const overview = distill(['--help']);
    assert.equal(overview.status, 0, overview.stderr);
    assert.equal(overview.stderr, '');
    assert.match(overview.stdout, /^Diffusion Distiller — train a guided diffusion teacher/);
    for (const c of [
      'run CONFIG',
      'resume RUN_DIR',
      'sweep SWEEP.json',
      'sample RUN_DIR',
      'edit RUN_DIR',
      'list [RUNS_DIR]',
      'export RUN_DIR',
      'eval RUN_DIR',
      'backends [--json]',
      'help [COMMAND]',
      'version',
    ]) {
      assert.match(overview.stdout, new RegExp(`^ {2}distill ${c.replace(/[[\]]/g, '\\$&')}`, 'm'), c);
    }
    assert.match(overview.stdout, /exits 75 so the batch script requeues the task/);
    for (const args of [['-h'], ['help']]) {
      const r = distill(args);
      assert.equal(r.status, 0, args.join(' '));
      assert.equal(r.stdout, overview.stdout, args.join(' '));
    }
    const bare = distill([]);
    assert.equal(bare.status, 2);
    assert.equal(bare.stdout, overview.stdout);
  });

  it('every command has its own help: COMMAND --help, COMMAND -h and help COMMAND print the same, exit 0', () => {
    for (const c of COMMANDS) {
      const r = distill([c, '--help']);
      assert.equal(r.status, 0, `${c} --help: ${r.stderr}`);
      assert.equal(r.stderr, '', c);
      assert.match(r.stdout, new RegExp(`^Usage:\\n {2}distill ${c}\\b`), c);
      assert.match(r.stdout, /\nOptions:\n(.*\n)* {2}-h, --help +show this help\n$/, c);
      if (c === 'resume' || c === 'eval' || c === 'version') {
        assert.equal(distill([c, '-h']).stdout, r.stdout, `${c} -h`);
        assert.equal(distill(['help', c]).stdout, r.stdout, `help ${c}`);
      }
    }
  });

  it("a command's help lists its arguments and every option it accepts, with the value placeholders", () => {
    const run = distill(['run', '--help']).stdout;
    assert.match(run, /\nArguments:\n {2}CONFIG +a \*\.distill\.json config/);
    for (const o of [
      '--runs-dir DIR',
      '--name NAME',
      '--backend B',
      '--threads N',
      '--launcher L',
      '--detach',
      '--partition P',
      '--time T',
      '--gres G',
      '--cpus-per-task N',
      '--mem M',
      '--account A',
      '--qos Q',
    ]) {
      assert.match(run, new RegExp(`^ {2}${o} `, 'm'), o);
    }
    assert.match(run, /--backend B +auto, webgpu, wasm, cpu, tensorflow/);
    const sample = distill(['help', 'sample']).stdout;
    assert.match(
      sample,
      /--stage STAGE +teacher, guided \(stage 1\), progressive or consistency \(a few-step student\) \(required\)/,
    );
    assert.match(sample, /--out FILE +FILE\.png: an image grid.*\(required\)/);
    const list = distill(['list', '-h']).stdout;
    assert.match(list, /RUNS_DIR +the runs folder \(default: runs\) \(optional\)/);
    const exp = distill(['export', '--help']).stdout;
    assert.match(exp, /--checkpoint FILE /);
  });

  it('--help wins over anything else on the line, even arguments that would be an error', () => {
    const r = distill(['sample', 'nowhere', '--stage', 'student', '--help']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Usage:\n {2}distill sample /);
  });

  it('--version, -V and version print the package.json version alone', () => {
    for (const args of [['--version'], ['-V'], ['version']]) {
      const r = distill(args);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${VERSION}\n`, args.join(' '));
      assert.equal(r.stderr, '');
    }
  });
});

describe('distill usage errors', () => {
  it('an unknown command: one line naming it, then the list of commands; exit 2', () => {
    for (const args of [['trian'], ['help', 'trian']]) {
      const r = distill(args);
      assert.equal(r.status, 2, args.join(' '));
      assert.equal(r.stdout, '');
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines[0], 'distill: unknown command "trian"');
      assert.equal(lines[2], 'Commands:');
      assert.deepEqual(
        lines.slice(3).map((l) => l.trim().split(/\s+/)[0]),
        COMMANDS,
      );
    }
    const dash = distill(['--verbose']);
    assert.equal(dash.status, 2);
    assert.match(
      dash.stderr,
      /^distill: unknown option --verbose; options before a command: -h, --help, -V, --version\n\nCommands:\n {2}run /,
    );
  });

  it("an unknown option: one line naming it, then that command's options; exit 2", () => {
    const r = distill(['run', 'x.distill.json', '--epochs', '3']);
    assert.equal(r.status, 2);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines[0], 'distill: unknown option --epochs');
    assert.equal(lines[2], 'Options of distill run:');
    assert.deepEqual(
      lines.slice(3).map((l) => l.trim().split(/\s+/)[0]),
      [
        '--runs-dir',
        '--name',
        '--backend',
        '--threads',
        '--launcher',
        '--detach',
        '--partition',
        '--time',
        '--gres',
        '--cpus-per-task',
        '--mem',
        '--account',
        '--qos',
        '-h,',
      ],
    );
    const b = distill(['backends', '--jsn']);
    assert.equal(b.status, 2);
    assert.match(
      b.stderr,
      /^distill: unknown option --jsn\n\nOptions of distill backends:\n {2}--json +print the report as JSON\n {2}-h, --help +show this help\n$/,
    );
  });

  it("a bad value names the flag, what was expected and what was given, then the command's usage; exit 2", () => {
    const cases: [string[], RegExp][] = [
      [
        ['run', 'x.json', '--backend', 'gpu'],
        /^distill: --backend: expected auto, webgpu, wasm, cpu, tensorflow, got "gpu"\n/,
      ],
      [['resume', 'r', '--threads', '-1'], /^distill: --threads: expected a non-negative integer, got "-1"\n/],
      [['run', 'x.json', '--launcher', 'pbs'], /^distill: --launcher: expected local or slurm, got "pbs"\n/],
      [
        ['sweep', 's.sweep.json', '--max-parallel', '0'],
        /^distill: --max-parallel: expected a positive integer, got "0"\n/,
      ],
      [
        ['sweep', 's.sweep.json', '--cpus-per-task', 'many'],
        /^distill: --cpus-per-task: expected a positive integer, got "many"\n/,
      ],
      [
        ['sample', 'r', '--stage', 'teacher', '--w', '1', '--out', 'a.jpg'],
        /^distill: --out: expected a file name ending in \.png or \.npy\n/,
      ],
      [
        ['sample', 'r', '--stage', 'teacher', '--out', 'a.png'],
        /^distill: --w: required \(e\.g\. --w 0,1,2,4 for a \.png, or --w 2 for a \.npy\)\n/,
      ],
      [
        ['sample', 'r', '--stage', 'teacher', '--w', '1,x', '--out', 'a.png'],
        /^distill: --w: expected a comma-separated list of non-negative numbers, got "1,x"\n/,
      ],
      [
        ['sample', 'r', '--stage', 'teacher', '--w', '1', '--sampler', 'euler', '--out', 'a.png'],
        /^distill: --sampler: expected ddim or stochastic\n/,
      ],
      [
        ['export', 'r', '--stage', 'teacher'],
        /^distill: --stage: expected progressive, consistency or guided \(the teacher is not a distilled student\)\n/,
      ],
      [['eval', 'r', '--samples', '1'], /^distill: --samples: expected an integer ≥ 2, got "1"\n/],
      [['eval', 'r', '--student-steps', '0,4'], /^distill: --student-steps: step counts must be ≥ 1\n/],
      [
        ['eval', 'r', '--teacher-steps', '2.5'],
        /^distill: --teacher-steps: expected a comma-separated list of non-negative integers, got "2\.5"\n/,
      ],
      [['backends', '--json=yes'], /^distill: --json: takes no value, got "yes"\n/],
      [['list', 'a', 'b'], /^distill: expected 0 to 1 argument\(s\), got 2\n/],
      [['run', 'x.json', '--name'], /^distill: --name: missing value\n/],
    ];
    for (const [args, re] of cases) {
      const r = distill(args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
      assert.match(
        r.stderr,
        new RegExp(`\\n\\nUsage:\\n {2}distill ${args[0]} [^]*\\n\\(distill ${args[0]} --help: every option\\)\\n$`),
        args.join(' '),
      );
    }
  });
});

describe('the argument parser', () => {
  const specs = {
    name: text('NAME', 'a name'),
    out: required(text('FILE', 'the output'), 'the output file'),
    w: numberList('LIST', 'weights'),
    json: flag('as JSON'),
    backend: backendOption,
    threads: threadsOption,
  };
  const args = [
    { name: 'DIR', help: 'a folder' },
    { name: 'MORE', help: 'another', optional: true },
  ];

  it('returns typed values: numbers, lists, switches, the backend; --flag=value and --flag value alike', () => {
    const p = parseArgs(
      ['d', '--out=o.png', '--w', '0,1.5, 2', '--json', '--backend', 'webgpu', '--threads=3', '--name', '--x'],
      args,
      specs,
    );
    assert.notEqual(p, HELP);
    if (p === HELP) return;
    assert.deepEqual(p.positional, ['d']);
    assert.deepEqual(p.options, {
      out: 'o.png',
      w: [0, 1.5, 2],
      json: true,
      backend: 'webgpu',
      threads: 3,
      name: '--x',
    });
  });

  it('accepts every backend of the protocol and nothing else', () => {
    for (const b of BACKENDS) {
      const p = parseArgs(['d', '--out', 'o', '--backend', b], args, specs);
      assert.equal(p !== HELP && p.options.backend, b);
    }
    assert.throws(
      () => parseArgs(['d', '--out', 'o', '--backend', 'WASM'], args, specs),
      (e: Error) => e instanceof UsageError && e.message === `--backend: expected ${BACKENDS.join(', ')}, got "WASM"`,
    );
  });

  it('required options, blank values, argument counts and unknown options are usage errors naming the flag', () => {
    const fails = (argv: string[], message: string, type: typeof UsageError = UsageError) =>
      assert.throws(
        () => parseArgs(argv, args, specs),
        (e: Error) => e instanceof type && e.message === message,
        argv.join(' '),
      );
    fails(['d'], '--out: required (the output file)');
    fails(['d', '--out='], '--out: required (the output file)');
    fails([], 'expected 1 to 2 argument(s), got 0');
    fails(['a', 'b', 'c', '--out', 'o'], 'expected 1 to 2 argument(s), got 3');
    fails(['d', '--out', 'o', '--threads', '1.5'], '--threads: expected a non-negative integer, got "1.5"');
    fails(['d', '--out', 'o', '--threads', ' '], '--threads: expected a non-negative integer, got " "');
    fails(['d', '--out', 'o', '--colour', 'red'], 'unknown option --colour', UnknownOptionError);
    fails(['d', '--out', 'o', '--constructor'], 'unknown option --constructor', UnknownOptionError);
  });

  it('-h and --help ask for the help before anything is checked', () => {
    assert.equal(parseArgs(['--help'], args, specs), HELP);
    assert.equal(parseArgs(['a', 'b', 'c', '--colour', 'red', '-h'], args, specs), HELP);
  });
});

describe('bin/distill.js', () => {
  it('runs dist/cli.js; before a build it says to run npm run build in one line and exits 1', () => {
    const ok = spawnSync(process.execPath, [path.join(REPO, 'bin', 'distill.js'), '--version'], {
      cwd: tmp,
      encoding: 'utf8',
    });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, `${VERSION}\n`);
    const checkout = path.join(tmp, 'checkout');
    fs.mkdirSync(path.join(checkout, 'bin'), { recursive: true });
    fs.copyFileSync(path.join(REPO, 'bin', 'distill.js'), path.join(checkout, 'bin', 'distill.js'));
    const r = spawnSync(process.execPath, [path.join(checkout, 'bin', 'distill.js'), 'list'], {
      cwd: tmp,
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `distill: ${path.join(checkout, 'dist', 'cli.js')} is missing; in a checkout of Diffusion Distiller, run \`npm run build\` first\n`,
    );
  });
});
