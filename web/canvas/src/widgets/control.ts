/** `control_after_generate`: how seed-like widgets change after each queued run. */
import { nodeKind } from "../graph/nodeKinds";
import { nodeWidgetSpecs } from "../graph/objectInfo";
import type { Graph, ObjectInfo } from "../graph/types";
import { normalizeNumber, type NumberOptions } from "./numbers";

// Randomized seeds stay within the integers a double holds exactly, as ComfyUI's front end does.
const RANDOM_CEILING = 1125899906842624;

export function nextControlledValue(value: number, mode: string, opts: NumberOptions, random = Math.random): number {
  const min = opts.min ?? 0;
  const max = Math.min(opts.max ?? RANDOM_CEILING, RANDOM_CEILING);
  switch (mode) {
    case "increment":
      return value + 1 > max ? max : value + 1;
    case "decrement":
      return value - 1 < min ? min : value - 1;
    case "randomize":
      return normalizeNumber(min + Math.floor(random() * (max - min + 1)), { min, max }, true);
    default:
      return value;
  }
}

/** Applies every control widget of the graph (also a PrimitiveNode's `[value, mode]`) after a queue. */
export function applyControls(graph: Graph, defs: ObjectInfo, random = Math.random): void {
  for (const node of graph.nodes) {
    const values = node.widgets_values;
    if (!Array.isArray(values) || node.mode === 2 || node.mode === 4) continue;
    if (node.type === "PrimitiveNode") {
      if (typeof values[0] === "number" && typeof values[1] === "string")
        values[0] = nextControlledValue(values[0], values[1], {}, random);
      continue;
    }
    const kind = nodeKind(defs, node.type);
    if (kind.kind === "missing") continue;
    const linked = new Set(node.inputs.filter((i) => i.widget && i.link != null).map((i) => i.name));
    const specs = nodeWidgetSpecs(node, kind.def);
    specs.forEach((w, i) => {
      if (w.kind !== "control" || i === 0) return;
      const target = specs[i - 1];
      if (linked.has(target.name) || typeof values[i - 1] !== "number") return;
      values[i - 1] = nextControlledValue(values[i - 1] as number, String(values[i]), target.options as NumberOptions, random);
    });
  }
}
