/**
 * JSON at the edges: reading a JSON file with one clear error per problem, checking a parsed
 * value against a schema (the first issue, with where it is), and writing values that hold
 * bigints (exact nanosecond timestamps) as plain JSON numbers.
 *
 * Schemas are passed in, never imported here: zod costs start-up time that `chids encode`
 * should not pay.
 */
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { InputError } from './errors.js';

function firstLine(err: unknown): string {
  return ((err as Error)?.message ?? String(err)).split('\n')[0];
}

/** The text of a file, or an InputError that says why it cannot be read. */
export async function readTextFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(file, 'missing (no such file)');
    if (code === 'EISDIR') throw new InputError(file, 'is a directory, expected a JSON file');
    if (code === 'EACCES') throw new InputError(file, 'permission denied');
    if (code === 'ELOOP') throw new InputError(file, 'too many levels of symbolic links');
    throw new InputError(file, `cannot read (${firstLine(err)})`);
  }
}

/** Parses JSON text read from `file`; an InputError naming the file when it is empty or malformed. */
export function parseJsonText(file: string, text: string): unknown {
  if (text.trim() === '') throw new InputError(file, 'empty file');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(file, `not valid JSON (${firstLine(err)})`);
  }
}

export async function readJsonFile(file: string): Promise<unknown> {
  return parseJsonText(file, await readTextFile(file));
}

/** The first schema issue as `PATH: MESSAGE` (`(top level): MESSAGE` at the root). */
export function firstIssue(err: z.ZodError): string {
  const issue = err.issues[0];
  if (issue === undefined) return 'invalid';
  return `${issue.path.length > 0 ? issue.path.join('.') : '(top level)'}: ${issue.message}`;
}

/** `value` checked against `schema`, or an InputError: `FILE: not a valid WHAT at PATH: MESSAGE`. */
export function validate<T>(file: string, schema: z.ZodType<T>, value: unknown, what: string, hint = ''): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
  throw new InputError(file, `not a valid ${what}${where}: ${issue?.message ?? 'invalid'}${hint}`);
}

/** Reads `file` as JSON and checks it against `schema`. */
export async function readJsonChecked<T>(file: string, schema: z.ZodType<T>, what: string): Promise<T> {
  return validate(file, schema, await readJsonFile(file), what);
}

const BIGINT_MARK = '__chids_bigint__';
const BIGINT_MARKED = new RegExp(`"${BIGINT_MARK}(-?\\d+)"`, 'g');

/**
 * JSON.stringify that writes bigints as exact JSON numbers (epoch nanoseconds exceed 2^53, so
 * they cannot pass through a JS number). Every output of chids uses this one policy.
 */
export function toJson(value: unknown, indent?: number): string {
  const text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${BIGINT_MARK}${v}` : v), indent);
  return text === undefined ? 'null' : text.replace(BIGINT_MARKED, '$1');
}
