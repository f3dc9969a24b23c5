/** Node search: which node types match a query, optionally only those that can take or give a link type. */
import { fuzzyScore } from "../widgets/filter";
import { allDefs } from "./nodeKinds";
import { displayName, outputType, socketInputs, widgetSpecs } from "./objectInfo";
import { typesCompatible } from "./sockets";
import type { NodeDef, ObjectInfo } from "./types";

export interface LinkFilter {
  /** Dragged from an output of this type: the node needs a matching input. */
  fromOutput?: string;
  /** Dragged from an input of this type: the node needs a matching output. */
  fromInput?: string;
}

export interface SearchHit {
  type: string;
  title: string;
  category: string;
  /** The input (by name) or output (by index) the dragged link would attach to. */
  slot?: string | number;
}

function acceptingInput(def: NodeDef, type: string): string | undefined {
  const sockets = socketInputs(def).map((s) => ({ name: s.name, type: s.type }));
  const widgets = widgetSpecs(def).filter((w) => w.serialize).map((w) => ({ name: w.name, type: w.type }));
  const exact = [...sockets, ...widgets].find((s) => s.type === type);
  return (exact ?? [...sockets, ...widgets].find((s) => typesCompatible(type, s.type)))?.name;
}

function givingOutput(def: NodeDef, type: string): number | undefined {
  const outs = def.output.map(outputType);
  const exact = outs.findIndex((t) => t === type);
  if (exact >= 0) return exact;
  const loose = outs.findIndex((t) => typesCompatible(t, type));
  return loose >= 0 ? loose : undefined;
}

export function searchNodes(defs: ObjectInfo, query: string, filter: LinkFilter = {}, limit = 50): SearchHit[] {
  const hits: (SearchHit & { score: number })[] = [];
  for (const [type, def] of Object.entries(allDefs(defs))) {
    let slot: string | number | undefined;
    if (filter.fromOutput !== undefined) {
      slot = acceptingInput(def, filter.fromOutput);
      if (slot === undefined) continue;
    } else if (filter.fromInput !== undefined) {
      slot = givingOutput(def, filter.fromInput);
      if (slot === undefined) continue;
    }
    const title = displayName(def, type);
    const score = Math.max(fuzzyScore(query, title), fuzzyScore(query, type) * 0.9,
                           fuzzyScore(query, `${def.category ?? ""} ${title}`) * 0.5);
    if (score > 0) hits.push({ type, title, category: def.category ?? "", slot, score: score - (def.deprecated ? 500 : 0) });
  }
  hits.sort((a, b) => b.score - a.score || a.title.localeCompare(b.title));
  return hits.slice(0, limit).map(({ score: _score, ...hit }) => hit);
}

export interface MenuTree {
  name: string;
  children: MenuTree[];
  types: { type: string; title: string }[];
}

/** The add-node menu: categories split on "/" into nested submenus. */
export function categoryTree(defs: ObjectInfo): MenuTree {
  const root: MenuTree = { name: "", children: [], types: [] };
  for (const [type, def] of Object.entries(allDefs(defs))) {
    if (def.deprecated) continue;
    let here = root;
    for (const part of (def.category || "uncategorized").split("/")) {
      let next = here.children.find((c) => c.name === part);
      if (!next) here.children.push((next = { name: part, children: [], types: [] }));
      here = next;
    }
    here.types.push({ type, title: displayName(def, type) });
  }
  const sort = (tree: MenuTree) => {
    tree.children.sort((a, b) => a.name.localeCompare(b.name));
    tree.types.sort((a, b) => a.title.localeCompare(b.title));
    tree.children.forEach(sort);
  };
  sort(root);
  return root;
}
