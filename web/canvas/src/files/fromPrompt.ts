/** Builds an editor graph from an API-format prompt (a PNG with only `prompt`, or a dropped API JSON). */
import { addLink, addNode } from "../graph/edits";
import { nodeKind } from "../graph/nodeKinds";
import { widgetSpecs } from "../graph/objectInfo";
import type { EditorNode, Graph, ObjectInfo } from "../graph/types";
import { emptyGraph } from "../graph/workflow";

type Prompt = Record<string, { class_type: string; inputs: Record<string, unknown>; _meta?: { title?: string } }>;

const isLink = (v: unknown): v is [string, number] => Array.isArray(v) && v.length === 2 && typeof v[0] === "string";

/** Column of each node: the length of its longest chain of inputs. */
function depths(prompt: Prompt): Map<string, number> {
  const memo = new Map<string, number>();
  const depth = (id: string, seen: Set<string>): number => {
    if (memo.has(id)) return memo.get(id)!;
    if (seen.has(id) || !prompt[id]) return 0;
    seen.add(id);
    const parents = Object.values(prompt[id].inputs ?? {}).filter(isLink).map((l) => depth(l[0], seen) + 1);
    const d = Math.max(0, ...parents);
    memo.set(id, d);
    return d;
  };
  for (const id of Object.keys(prompt)) depth(id, new Set());
  return memo;
}

export function graphFromPrompt(prompt: Prompt, defs: ObjectInfo): Graph {
  const graph = emptyGraph();
  const ids = new Map<string, EditorNode>();
  const rows = new Map<number, number>();
  const depth = depths(prompt);
  for (const [key, entry] of Object.entries(prompt)) {
    const column = depth.get(key) ?? 0;
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    const pos: [number, number] = [column * 340, row * 260];
    let node: EditorNode;
    if (nodeKind(defs, entry.class_type).kind === "missing") {
      node = { id: ++graph.lastNodeId, type: entry.class_type, pos, size: [260, 120], flags: {}, order: 0, mode: 0,
               inputs: [], outputs: [], properties: {}, widgets_values: [] };
      graph.nodes.push(node);
    } else node = addNode(graph, defs, entry.class_type, pos);
    if (entry._meta?.title) node.title = entry._meta.title;
    ids.set(key, node);
    const kind = nodeKind(defs, entry.class_type);
    const specs = kind.kind === "missing" ? [] : widgetSpecs(kind.def);
    specs.forEach((w, i) => {
      const value = entry.inputs?.[w.name];
      if (value !== undefined && !isLink(value) && Array.isArray(node.widgets_values))
        node.widgets_values[i] = (value as { __value__?: unknown })?.__value__ ?? value;
    });
  }
  for (const [key, entry] of Object.entries(prompt)) {
    const target = ids.get(key)!;
    for (const [name, value] of Object.entries(entry.inputs ?? {})) {
      if (!isLink(value) || !ids.has(value[0])) continue;
      const origin = ids.get(value[0])!;
      const slot = Number(value[1]);
      while (origin.outputs.length <= slot) origin.outputs.push({ name: "*", type: "*", links: [] });
      let inputSlot = target.inputs.findIndex((i) => i.name === name);
      if (inputSlot < 0) {
        const isWidget = specs(defs, target.type).includes(name);
        target.inputs.push({ name, type: origin.outputs[slot].type, link: null, ...(isWidget ? { widget: { name } } : {}) });
        inputSlot = target.inputs.length - 1;
      }
      addLink(graph, origin.id, slot, target.id, inputSlot, origin.outputs[slot].type);
    }
  }
  return graph;
}

function specs(defs: ObjectInfo, type: string): string[] {
  const kind = nodeKind(defs, type);
  return kind.kind === "missing" ? [] : widgetSpecs(kind.def).map((w) => w.name);
}
