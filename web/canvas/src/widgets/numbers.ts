/** Number widget arithmetic: clamping, rounding to the spec's `round`/`step`, stepping and dragging. */

export interface NumberOptions {
  min?: number;
  max?: number;
  step?: number;
  round?: number | false;
}

export function defaultStep(opts: NumberOptions, isInt: boolean): number {
  return typeof opts.step === "number" && opts.step > 0 ? opts.step : isInt ? 1 : 0.01;
}

/** Clamps to [min, max] and rounds: integers to whole numbers, floats to `round` (or the step) when given. */
export function normalizeNumber(value: number, opts: NumberOptions, isInt: boolean): number {
  if (!Number.isFinite(value)) value = opts.min ?? 0;
  if (typeof opts.min === "number") value = Math.max(opts.min, value);
  if (typeof opts.max === "number") value = Math.min(opts.max, value);
  if (isInt) return Math.round(value);
  const precision = opts.round === false ? 0 : typeof opts.round === "number" ? opts.round : opts.step ?? 0;
  if (precision > 0) {
    const decimals = Math.max(0, Math.ceil(-Math.log10(precision)));
    value = Number((Math.round(value / precision) * precision).toFixed(decimals));
  }
  return value;
}

export function stepNumber(value: number, direction: 1 | -1, opts: NumberOptions, isInt: boolean): number {
  return normalizeNumber(value + direction * defaultStep(opts, isInt), opts, isInt);
}

/** The value after dragging `pixels` horizontally from `start`: one step per 8 pixels. */
export function dragNumber(start: number, pixels: number, opts: NumberOptions, isInt: boolean): number {
  return normalizeNumber(start + Math.trunc(pixels / 8) * defaultStep(opts, isInt), opts, isInt);
}

export function formatNumber(value: unknown, isInt: boolean): string {
  const n = Number(value);
  if (!Number.isFinite(n)) return String(value);
  return isInt ? String(Math.round(n)) : String(Number(n.toFixed(4)));
}

export function intToHex(value: number): string {
  return `#${(Math.max(0, Math.min(0xffffff, value | 0))).toString(16).padStart(6, "0")}`;
}

export function hexToInt(hex: string): number {
  return parseInt(hex.replace("#", ""), 16) || 0;
}
