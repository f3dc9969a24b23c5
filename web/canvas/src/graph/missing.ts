/** What a loaded workflow references that the server lacks: node types and files in combo lists. */
import { nodeKind } from "./nodeKinds";
import { nodeWidgetSpecs } from "./objectInfo";
import type { Graph, ObjectInfo } from "./types";

export interface MissingReport {
  types: string[];
  /** One line per combo value not offered by the server, e.g. `Load Checkpoint (4): ckpt_name = sd15.safetensors`. */
  files: string[];
}

export function findMissing(graph: Graph, defs: ObjectInfo): MissingReport {
  const types = new Set<string>();
  const files: string[] = [];
  for (const node of graph.nodes) {
    const kind = nodeKind(defs, node.type);
    if (kind.kind === "missing") {
      types.add(node.type);
      continue;
    }
    if (kind.kind !== "server" || !Array.isArray(node.widgets_values) || node.mode === 2 || node.mode === 4) continue;
    const linked = new Set(node.inputs.filter((i) => i.link != null).map((i) => i.name));
    nodeWidgetSpecs(node, kind.def).forEach((w, i) => {
      const value = (node.widgets_values as unknown[])[i];
      if (w.kind !== "combo" || linked.has(w.name) || typeof value !== "string") return;
      if (!w.values!.includes(value) && /\.[a-z0-9]{2,12}$/i.test(value))
        files.push(`${node.title ?? kind.def.display_name ?? node.type} (#${node.id}): ${w.name} = ${value}`);
    });
  }
  return { types: [...types].sort(), files };
}
