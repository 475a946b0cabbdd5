import { single, type FieldMap, type FieldValue } from '../domain/fields.ts';
import { ApiError, ErrorText } from './errors.ts';

/** Typed reads of request fields; a one-item list counts as its item (domain/fields.ts `single`). */
export function scalar(q: FieldMap, name: string): string | undefined {
  const value = q[name];
  if (value === undefined) return undefined;
  const one = single(value);
  if (typeof one !== 'string') throw new ApiError(ErrorText.wrongShape(name, 'a single value'));
  return one.trim();
}

export function required(q: FieldMap, name: string, missing: string): string {
  const value = scalar(q, name);
  if (value === undefined || value === '') throw new ApiError(missing);
  return value;
}

/** A repeatable field as a list (absent → empty). */
export function many(q: FieldMap, name: string): FieldValue[] {
  const value = q[name];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

export function yesNo(q: FieldMap, name: string): boolean {
  const value = scalar(q, name)?.toLowerCase();
  if (value === undefined || value === '' || value === 'no' || value === '0' || value === 'false') return false;
  if (value === 'yes' || value === '1' || value === 'true') return true;
  throw new ApiError(ErrorText.badValue(name, `must be yes or no, not "${value}".`));
}

export function positiveInt(text: string, field: string): number {
  if (!/^\d{1,15}$/.test(text) || Number(text) < 1) throw new ApiError(ErrorText.badValue(field, `must be a positive whole number, not "${text}".`));
  return Number(text);
}

/** Media and task ids are PostgreSQL `integer`s: a larger number names nothing, and must not reach a query. */
export const MAX_ID = 2_147_483_647;

export function mediaIdOf(q: FieldMap): number {
  return mediaIdFrom(required(q, 'mediaid', ErrorText.noMediaId));
}

/** One media id as text: not a number is refused, a number no media can have is not found. */
export function mediaIdFrom(text: string): number {
  if (!/^\d{1,15}$/.test(text) || Number(text) < 1) throw new ApiError(ErrorText.badMediaId(text));
  if (Number(text) > MAX_ID) throw new ApiError(ErrorText.mediaNotFound(text));
  return Number(text);
}

export function taskIdOf(q: FieldMap): number {
  const id = positiveInt(required(q, 'taskid', ErrorText.noTaskId), 'taskid');
  if (id > MAX_ID) throw new ApiError(ErrorText.taskNotFound(id));
  return id;
}

/** An id a list is filtered by. */
export function idFilter(text: string, field: string): number {
  const id = positiveInt(text, field);
  if (id > MAX_ID) throw new ApiError(ErrorText.badValue(field, `must be at most ${MAX_ID}, not "${text}".`));
  return id;
}
