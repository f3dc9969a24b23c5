/** Undo/redo over immutable snapshots: every edit of a document goes through `commit`. */

export interface History<T> {
  present: T;
  past: T[];
  future: T[];
  /** Consecutive commits with the same key inside MERGE_MS become one undo step (typing, dragging a number). */
  mergeKey?: string;
  mergedAt?: number;
}

export const HISTORY_LIMIT = 200;
export const MERGE_MS = 1000;

export function createHistory<T>(present: T): History<T> {
  return { present, past: [], future: [] };
}

export function commit<T>(h: History<T>, next: T, mergeKey?: string, now = Date.now()): History<T> {
  if (next === h.present) return h;
  const merge = mergeKey !== undefined && mergeKey === h.mergeKey && now - (h.mergedAt ?? 0) < MERGE_MS;
  const past = merge ? h.past : [...h.past, h.present].slice(-HISTORY_LIMIT);
  return { present: next, past, future: [], mergeKey, mergedAt: now };
}

/** Replaces the present without an undo step (the middle of a drag); `base` is what undo returns to. */
export function replace<T>(h: History<T>, next: T): History<T> {
  return { ...h, present: next };
}

/** Ends a gesture that started at `base`: one undo step from base to the present. */
export function commitFrom<T>(h: History<T>, base: T): History<T> {
  if (base === h.present) return h;
  return { present: h.present, past: [...h.past, base].slice(-HISTORY_LIMIT), future: [], mergeKey: undefined };
}

export function undo<T>(h: History<T>): History<T> {
  if (!h.past.length) return h;
  return { present: h.past[h.past.length - 1], past: h.past.slice(0, -1), future: [h.present, ...h.future],
           mergeKey: undefined };
}

export function redo<T>(h: History<T>): History<T> {
  if (!h.future.length) return h;
  return { present: h.future[0], past: [...h.past, h.present], future: h.future.slice(1), mergeKey: undefined };
}
