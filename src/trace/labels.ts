/**
 * LID-DS 2021 recording labels: the `NAME.json` that sits inside `NAME.zip` (or beside an
 * unpacked `NAME.sc`). It carries whether the recording contains an attack (`exploit`) and
 * when the attack started (`time.exploit[0].absolute`, epoch seconds).
 *
 * Parsing is lenient about what we do not use (unknown keys pass through untouched, and
 * optional descriptive fields of an unexpected type are dropped) but strict about the labels
 * themselves: a non-boolean `exploit` or a non-numeric attack time is an InputError, because a
 * silently wrong label would corrupt every detection-rate figure computed from it.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type * as Zod from 'zod';
import { InputError } from '../util/errors.js';
import { firstIssue } from '../util/json.js';

export interface RecordingLabels {
  /** The recording contains an attack. */
  exploit: boolean;
  /** Attack start, `time.exploit[0].absolute` (epoch seconds, float), or null when absent. */
  exploitStartSec: number | null;
  /** `exploit_name`, when it is a string. */
  exploitName?: string;
  /** `recording_time` (seconds), when it is a number. */
  recordingTimeSec?: number;
  /** `time.warmup_end.absolute` (epoch seconds), or null when absent. */
  warmupEndSec?: number | null;
  /** The whole parsed document, unknown keys included. */
  raw: unknown;
}

/** Largest labels file we read: LID-DS ones are a few KiB; anything huge is not a labels file. */
export const MAX_LABELS_BYTES = 16 * 1024 * 1024;

// zod is loaded on first use: reading a trace that has no labels (what `encode` does) should not
// pay its ~40 ms start-up.
function buildSchema(z: typeof Zod) {
  const TimePoint = z.looseObject({ absolute: z.number() });
  return z.looseObject({
    exploit: z.boolean().default(false),
    exploit_name: z.string().optional().catch(undefined),
    recording_time: z.number().optional().catch(undefined),
    time: z
      .looseObject({
        exploit: z.array(TimePoint).optional(),
        warmup_end: z.looseObject({ absolute: z.number() }).optional().catch(undefined),
      })
      .optional(),
  });
}
let labelsSchema: ReturnType<typeof buildSchema> | null = null;
const schema = () => (labelsSchema ??= buildSchema(createRequire(import.meta.url)('zod') as typeof Zod));

/**
 * Parses the text of a labels file. `file` and `what` name it in errors: `file` is the file on
 * disk, `what` (optional) the entry inside it, e.g. `NAME.json` inside `NAME.zip`.
 */
export function parseLabels(text: string, file: string, what?: string): RecordingLabels {
  const prefix = what ? `${what}: ` : '';
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InputError(file, `${prefix}malformed JSON labels (${oneLine(err)})`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new InputError(file, `${prefix}labels must be a JSON object`);
  }
  const parsed = schema().safeParse(doc);
  if (!parsed.success) {
    throw new InputError(file, `${prefix}invalid labels: ${firstIssue(parsed.error)}`);
  }
  const v = parsed.data;
  const first = v.time?.exploit?.[0];
  const labels: RecordingLabels = {
    exploit: v.exploit,
    exploitStartSec: first ? first.absolute : null,
    warmupEndSec: v.time?.warmup_end?.absolute ?? null,
    raw: doc,
  };
  if (v.exploit_name !== undefined) labels.exploitName = v.exploit_name;
  if (v.recording_time !== undefined) labels.recordingTimeSec = v.recording_time;
  return labels;
}

/** Reads and parses a labels file on disk; null when it does not exist. */
export async function readLabelsFile(jsonPath: string): Promise<RecordingLabels | null> {
  let text: string;
  try {
    const buf = await readFile(jsonPath);
    if (buf.length > MAX_LABELS_BYTES) {
      throw new InputError(jsonPath, `labels file is too large (${buf.length} bytes; at most ${MAX_LABELS_BYTES})`);
    }
    text = buf.toString('utf8');
  } catch (err) {
    if (err instanceof InputError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new InputError(jsonPath, `cannot read labels: ${fsProblem(err)}`);
  }
  return parseLabels(text, jsonPath);
}

/**
 * A one-line description of a file-system error for InputError(file, …), which already names
 * the file. (Shared by the source modules; it lives here because labels.ts is their leaf.)
 */
export function fsProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a component of the path is not a directory';
    case 'ELOOP':
      return 'too many levels of symbolic links (a symlink loop?)';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on device';
    case 'EDQUOT':
      return 'disk quota exceeded';
    case 'EIO':
      return 'I/O error';
    case 'EMFILE':
    case 'ENFILE':
      return 'too many open files';
    case 'EBUSY':
      // What rename(2) says when the directory is a mount point (a bind-mounted baseline).
      return 'busy: a mount point cannot be replaced';
    default:
      return oneLine(err); // Node's own messages already start with the code
  }
}

/** First line of an error's message. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return (msg.split('\n')[0] ?? msg).trim();
}
