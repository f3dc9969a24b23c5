/** Reads and writes ComfyUI's editor workflow format (spec §3.2), keeping every field it does not use. */
import type { EditorNode, Graph, Group, Link } from "./types";

export class WorkflowError extends Error {}

const GRAPH_KEYS = new Set(["nodes", "links", "groups", "last_node_id", "last_link_id", "version"]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function readLink(raw: unknown, index: number): Link {
  if (Array.isArray(raw)) {
    if (raw.length < 6) throw new WorkflowError(`link #${index} has ${raw.length} fields; expected 6 ([id, origin_id, origin_slot, target_id, target_slot, type])`);
    const [id, origin_id, origin_slot, target_id, target_slot, type, ...tail] = raw;
    const link: Link = { id, origin_id, origin_slot, target_id, target_slot, type: String(type) };
    if (tail.length) link._tail = tail;
    return link;
  }
  if (isObject(raw) && typeof raw.id === "number") return { ...raw } as Link;
  throw new WorkflowError(`link #${index} is neither [id, origin_id, origin_slot, target_id, target_slot, type] nor a link object`);
}

function readNode(raw: unknown, index: number): EditorNode {
  if (!isObject(raw)) throw new WorkflowError(`node #${index} is not an object`);
  if (raw.id === undefined || raw.id === null) throw new WorkflowError(`node #${index} has no "id"`);
  if (typeof raw.type !== "string") throw new WorkflowError(`node ${raw.id} has no "type" (its node class name)`);
  const pos = raw.pos as unknown;
  const xy: [number, number] = Array.isArray(pos) ? [Number(pos[0]), Number(pos[1])]
    : isObject(pos) ? [Number(pos["0"]), Number(pos["1"])] : [0, 0];
  const size = Array.isArray(raw.size) ? [Number(raw.size[0]), Number(raw.size[1])] : [220, 80];
  return {
    ...raw,
    id: raw.id as number,
    type: raw.type,
    pos: xy,
    size: size as [number, number],
    flags: isObject(raw.flags) ? raw.flags : {},
    order: typeof raw.order === "number" ? raw.order : index,
    mode: typeof raw.mode === "number" ? raw.mode : 0,
    inputs: Array.isArray(raw.inputs) ? raw.inputs.map((i) => ({ link: null, ...i })) : [],
    outputs: Array.isArray(raw.outputs) ? raw.outputs.map((o) => ({ links: null, ...o })) : [],
    properties: isObject(raw.properties) ? raw.properties : {},
  };
}

/** Whether a parsed JSON object looks like an API-format prompt (`{id: {class_type, inputs}}`). */
export function isApiPrompt(data: unknown): data is Record<string, { class_type: string; inputs: Record<string, unknown> }> {
  if (!isObject(data) || "nodes" in data) return false;
  const values = Object.values(data);
  return values.length > 0 && values.every((v) => isObject(v) && typeof v.class_type === "string");
}

/** Parses an editor workflow (version 0.4 or 1); throws WorkflowError saying what is wrong. */
export function readWorkflow(data: unknown): Graph {
  if (!isObject(data)) throw new WorkflowError("not a workflow: expected a JSON object with \"nodes\" and \"links\"");
  if (!Array.isArray(data.nodes)) throw new WorkflowError("not a ComfyUI workflow: it has no \"nodes\" list");
  const nodes = data.nodes.map(readNode);
  const links = (Array.isArray(data.links) ? data.links : []).map(readLink);
  const groups = (Array.isArray(data.groups) ? data.groups : []) as Group[];
  const state = isObject(data.state) ? data.state : {};
  const maxNode = nodes.reduce((m, n) => Math.max(m, Number(n.id) || 0), 0);
  const maxLink = links.reduce((m, l) => Math.max(m, l.id), 0);
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) if (!GRAPH_KEYS.has(k)) rest[k] = v;
  return {
    nodes, links, groups,
    lastNodeId: Math.max(maxNode, Number(data.last_node_id ?? state.lastNodeId ?? 0) || 0),
    lastLinkId: Math.max(maxLink, Number(data.last_link_id ?? state.lastLinkId ?? 0) || 0),
    version: typeof data.version === "number" ? data.version : 0.4,
    rest,
  };
}

function writeLink(link: Link, version: number): unknown {
  if (version >= 1) return link;
  const { id, origin_id, origin_slot, target_id, target_slot, type, _tail } = link;
  return [id, origin_id, origin_slot, target_id, target_slot, type, ...((_tail as unknown[]) ?? [])];
}

/** Serializes a graph back to the editor format it was read from. */
export function writeWorkflow(graph: Graph): Record<string, unknown> {
  const { id, revision, state, ...others } = graph.rest as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  if (id !== undefined) out.id = id;
  if (revision !== undefined) out.revision = revision;
  if (graph.version >= 1) {
    out.state = { ...(isObject(state) ? state : {}), lastNodeId: graph.lastNodeId, lastLinkId: graph.lastLinkId };
  } else {
    out.last_node_id = graph.lastNodeId;
    out.last_link_id = graph.lastLinkId;
  }
  out.nodes = graph.nodes;
  out.links = graph.links.map((l) => writeLink(l, graph.version));
  out.groups = graph.groups;
  Object.assign(out, others);
  out.version = graph.version;
  return out;
}

export function emptyGraph(): Graph {
  return { nodes: [], links: [], groups: [], lastNodeId: 0, lastLinkId: 0, version: 0.4,
           rest: { config: {}, extra: { ds: { scale: 1, offset: [0, 0] } } } };
}
