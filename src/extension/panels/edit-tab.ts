/**
 * The host side of the checkpoint preview's Edit tab, without `vscode` (unit-tested directly): what the run offers
 * for editing (read from its folder), the checks on an edit request's images, and the edit itself — the guided
 * teacher then the student on the same input, mask and seed, through the worker, with progress and cancel.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FILES } from '../../engine/run/run-folder';
import type { EditTabResult, EditTabSpec, HostToWebview, WebviewToHost } from '../../protocol';
import type { PanelServices } from './panel-services';
import { runStudents } from './run-view';

export type EditInfo = Extract<HostToWebview, { type: 'editInfo' }>;
export type EditRequestMessage = Extract<WebviewToHost, { type: 'edit' }>;

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** True when base64 `b64` decodes to bytes starting with the PNG signature. */
export function isPngBase64(b64: string): boolean {
  const bytes = Buffer.from(b64.slice(0, 16), 'base64');
  return bytes.length >= PNG_SIGNATURE.length && bytes.subarray(0, PNG_SIGNATURE.length).equals(PNG_SIGNATURE);
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What the Edit tab needs to know of a run: image size and channels, class names, the teacher's default steps
 * (sampling.teacherSteps), every trained student (each method's, each step count) and the step counts that have
 * their own progressive student. Undefined when the run is not
 * on square grey or RGB images (a toy 2-D run), or its folder has no dataset description yet.
 */
export function editInfoOf(runDir: string): EditInfo | undefined {
  const data = readJson(path.join(runDir, 'dataset.json'));
  const shape = data?.shape;
  if (!data || data.kind !== 'image' || !Array.isArray(shape) || shape.length !== 3) return undefined;
  const [h, w, c] = shape as unknown[];
  if (typeof h !== 'number' || h !== w || !Number.isInteger(h) || h < 1 || (c !== 1 && c !== 3)) return undefined;
  const numClasses =
    typeof data.numClasses === 'number' && Number.isInteger(data.numClasses) && data.numClasses > 0
      ? data.numClasses
      : 1;
  const given = Array.isArray(data.classNames) ? (data.classNames as unknown[]) : [];
  const classNames = Array.from({ length: numClasses }, (_, i) =>
    typeof given[i] === 'string' && given[i] ? (given[i] as string) : String(i),
  );
  const sampling = readJson(path.join(runDir, FILES.config))?.sampling as Record<string, unknown> | undefined;
  const ts = sampling?.teacherSteps;
  const teacherSteps = typeof ts === 'number' && Number.isInteger(ts) && ts >= 1 && ts <= 4096 ? ts : 64;
  // every trained student, each method's; the steps that have their own progressive student
  const students = runStudents(runDir).filter((s) => s.trained);
  const studentSteps = students.filter((s) => s.method === 'progressive').map((s) => s.steps);
  return { type: 'editInfo', size: h, channels: c, classNames, teacherSteps, studentSteps, students };
}

/** Why an edit request's images cannot be used (undefined: they can). */
export function editRequestProblem(m: EditRequestMessage): string | undefined {
  if (!isPngBase64(m.imagePngBase64)) return 'the input image is not a PNG';
  if (m.maskPngBase64 !== undefined && !isPngBase64(m.maskPngBase64)) return 'the mask is not a PNG';
  return undefined;
}

export interface EditJob {
  requestId: number;
  abort: AbortController;
}

/**
 * Runs an edit request: the teacher (teacherSteps, 2 NFE per step) then the student (studentSteps, 1 NFE per step)
 * on the same input, mask, class, strength, w and seed, posting editBusy while they run and editResult (or
 * editError: a bad request, a failure, or "Cancelled." when `job.abort` fires) at the end. `isCurrent` tells whether
 * the job is still the panel's (a newer request or a reload replaced it: post nothing more).
 */
export async function runEdit(
  runDir: string,
  m: EditRequestMessage,
  job: EditJob,
  worker: PanelServices['worker'],
  post: (msg: HostToWebview) => void,
  isCurrent: () => boolean,
  progressEveryMs = 50,
): Promise<void> {
  const problem = editRequestProblem(m);
  if (problem) {
    post({ type: 'editError', requestId: m.requestId, message: `Cannot edit: ${problem}.` });
    return;
  }
  const base = {
    runDir,
    imagePngBase64: m.imagePngBase64,
    maskPngBase64: m.maskPngBase64,
    classId: m.classId,
    strength: m.strength,
    w: m.w,
    seed: m.seed,
  };
  let lastPost = 0;
  const progress =
    (phase: 'teacher' | 'student') =>
    (done: number, total: number): void => {
      const now = Date.now();
      if (!isCurrent() || (now - lastPost < progressEveryMs && done < total)) return;
      lastPost = now;
      post({ type: 'editBusy', requestId: m.requestId, done, total, phase });
    };
  const one = (model: 'teacher' | 'student', steps: number): Promise<EditTabResult> => {
    const spec: EditTabSpec = {
      ...base,
      model,
      steps,
      ...(model === 'student' && m.student ? { student: m.student } : {}),
    };
    return worker.edit(spec, progress(model), job.abort.signal);
  };
  try {
    const teacher = await one('teacher', m.teacherSteps);
    if (!isCurrent()) return;
    let student: EditTabResult | undefined;
    let studentError: string | undefined;
    try {
      student = await one('student', m.studentSteps);
    } catch (e) {
      // The teacher's result stands on its own (a run without a student checkpoint yet); a cancel ends both.
      if (job.abort.signal.aborted) throw e;
      studentError = e instanceof Error ? e.message : String(e);
    }
    if (!isCurrent()) return;
    post({ type: 'editResult', requestId: m.requestId, teacher, student, studentError });
  } catch (e) {
    if (!isCurrent() && !job.abort.signal.aborted) return;
    const text = e instanceof Error ? e.message : String(e);
    post({
      type: 'editError',
      requestId: m.requestId,
      message: job.abort.signal.aborted ? 'Cancelled.' : `Edit failed: ${text}`,
    });
  }
}
