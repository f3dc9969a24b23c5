/** What the canvas knows about a node type: a server definition, a front-end-only node, or a missing type. */
import type { NodeDef, ObjectInfo } from "./types";

/** Front-end-only nodes (spec §8.8): never sent to the server, described here as definitions. */
export const FRONTEND_DEFS: ObjectInfo = {
  Note: {
    input: { required: { text: ["STRING", { multiline: true }] } }, output: [], output_name: [],
    name: "Note", display_name: "Note", category: "utils", description: "A text note; not executed.",
  },
  MarkdownNote: {
    input: { required: { text: ["STRING", { multiline: true }] } }, output: [], output_name: [],
    name: "MarkdownNote", display_name: "Markdown Note", category: "utils", description: "A markdown note; not executed.",
  },
  Reroute: {
    input: { required: { "": ["*"] } }, output: ["*"], output_name: [""],
    name: "Reroute", display_name: "Reroute", category: "utils", description: "A point to route a link through.",
  },
  PrimitiveNode: {
    input: {}, output: ["*"], output_name: ["connect to widget input"],
    name: "PrimitiveNode", display_name: "Primitive", category: "utils",
    description: "Holds a value and copies it into every widget input it is linked to.",
  },
};

export type NodeKind =
  | { kind: "server"; def: NodeDef }
  | { kind: "frontend"; def: NodeDef }
  | { kind: "missing" };

export function nodeKind(defs: ObjectInfo, type: string): NodeKind {
  if (defs[type]) return { kind: "server", def: defs[type] };
  if (FRONTEND_DEFS[type]) return { kind: "frontend", def: FRONTEND_DEFS[type] };
  return { kind: "missing" };
}

/** Definitions offered in search and menus: the server's plus the front-end nodes. */
export function allDefs(defs: ObjectInfo): ObjectInfo {
  return { ...defs, ...FRONTEND_DEFS };
}
