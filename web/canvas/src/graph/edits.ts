/** Edits of a graph: pure functions that change a Graph in place (the store runs them on an immer draft). */
import { nodeKind } from "./nodeKinds";
import { defaultWidgetValues, nodeWidgetSpecs, outputType, socketInputs, widgetSpecs } from "./objectInfo";
import { typesCompatible } from "./sockets";
import type { EditorNode, Graph, Group, Link, NodeInput, ObjectInfo } from "./types";

export class EditError extends Error {}

export function findNode(graph: Graph, id: number): EditorNode {
  const node = graph.nodes.find((n) => n.id === id);
  if (!node) throw new EditError(`node ${id} does not exist`);
  return node;
}

/** Adds a node of `type` with default widget values; returns it. */
export function addNode(graph: Graph, defs: ObjectInfo, type: string, pos: [number, number]): EditorNode {
  const kind = nodeKind(defs, type);
  if (kind.kind === "missing") throw new EditError(`node type "${type}" is not known to the server`);
  const def = kind.def;
  const inputs: NodeInput[] = socketInputs(def).map((s) => ({ name: s.name, type: s.type, link: null }));
  const outputs = def.output.map((t, i) => ({ name: def.output_name[i] ?? String(t), type: outputType(t), links: [] as number[] }));
  const widgets = widgetSpecs(def);
  const node: EditorNode = {
    id: ++graph.lastNodeId, type, pos, size: [260, 46 + 22 * Math.max(inputs.length, outputs.length) + 28 * widgets.length],
    flags: {}, order: graph.nodes.length, mode: 0, inputs, outputs,
    properties: kind.kind === "server" ? { "Node name for S&R": type } : {},
    widgets_values: defaultWidgetValues(def),
  };
  if (kind.kind === "frontend" && type === "PrimitiveNode") node.widgets_values = [];
  graph.nodes.push(node);
  return node;
}

/** Adds a link between two existing slots, replacing whatever fed the target slot. */
export function addLink(graph: Graph, originId: number, originSlot: number, targetId: number, targetSlot: number,
                        type: string): Link {
  const origin = findNode(graph, originId);
  const target = findNode(graph, targetId);
  const output = origin.outputs[originSlot];
  const input = target.inputs[targetSlot];
  if (!output) throw new EditError(`node ${originId} has no output slot ${originSlot}`);
  if (!input) throw new EditError(`node ${targetId} has no input slot ${targetSlot}`);
  if (input.link != null) detachLink(graph, input.link);
  const link: Link = { id: ++graph.lastLinkId, origin_id: originId, origin_slot: originSlot, target_id: targetId,
                       target_slot: targetSlot, type };
  graph.links.push(link);
  input.link = link.id;
  output.links = [...(output.links ?? []), link.id];
  return link;
}

/** Removes a link's references from both ends and from the link list, keeping slot indices stable. */
function detachLink(graph: Graph, linkId: number): Link | undefined {
  const index = graph.links.findIndex((l) => l.id === linkId);
  if (index < 0) return undefined;
  const [link] = graph.links.splice(index, 1);
  const origin = graph.nodes.find((n) => n.id === link.origin_id);
  const output = origin?.outputs[link.origin_slot];
  if (output?.links) output.links = output.links.filter((id) => id !== linkId);
  const target = graph.nodes.find((n) => n.id === link.target_id);
  const input = target?.inputs[link.target_slot];
  if (input && input.link === linkId) input.link = null;
  return link;
}

/** Removes a link; a widget input left unlinked turns back into a plain widget (its socket entry goes). */
export function removeLink(graph: Graph, linkId: number): void {
  const link = detachLink(graph, linkId);
  if (!link) return;
  const target = graph.nodes.find((n) => n.id === link.target_id);
  const input = target?.inputs[link.target_slot];
  if (target && input?.widget && input.link == null) removeInputSlot(graph, target, link.target_slot);
}

function removeInputSlot(graph: Graph, node: EditorNode, slot: number): void {
  node.inputs.splice(slot, 1);
  for (const l of graph.links) if (l.target_id === node.id && l.target_slot > slot) l.target_slot -= 1;
}

/** The type an input called `name` accepts: its socket's type, or the type of the widget of that name. */
export function inputType(defs: ObjectInfo, node: EditorNode, name: string): string | undefined {
  const slot = node.inputs.find((i) => i.name === name);
  if (slot) return slot.type;
  const kind = nodeKind(defs, node.type);
  if (kind.kind === "missing") return undefined;
  return nodeWidgetSpecs(node, kind.def).find((w) => w.name === name && w.serialize)?.type;
}

/** Connects an output to the input (socket or widget) called `inputName`, checking types. */
export function connect(graph: Graph, defs: ObjectInfo, originId: number, originSlot: number, targetId: number,
                        inputName: string): Link {
  if (originId === targetId) throw new EditError("a node cannot feed itself");
  const origin = findNode(graph, originId);
  const target = findNode(graph, targetId);
  const output = origin.outputs[originSlot];
  if (!output) throw new EditError(`node ${originId} has no output slot ${originSlot}`);
  const wanted = inputType(defs, target, inputName);
  if (wanted === undefined) throw new EditError(`node ${targetId} (${target.type}) has no input "${inputName}"`);
  if (!typesCompatible(output.type, wanted))
    throw new EditError(`cannot connect ${output.type} to input "${inputName}" of type ${wanted}`);
  let slot = target.inputs.findIndex((i) => i.name === inputName);
  if (slot < 0) {
    target.inputs.push({ name: inputName, type: wanted, widget: { name: inputName }, link: null });
    slot = target.inputs.length - 1;
  }
  if (origin.type === "PrimitiveNode") adoptWidget(defs, origin, target, inputName, wanted);
  return addLink(graph, originId, originSlot, targetId, slot, output.type === "*" ? wanted : output.type);
}

/** A PrimitiveNode takes the type and current value of the first widget it is linked to. */
function adoptWidget(defs: ObjectInfo, primitive: EditorNode, target: EditorNode, name: string,
                     type: string): void {
  const output = primitive.outputs[0];
  if (output.type !== "*") return;
  output.type = type;
  output.name = type;
  output.widget = { name };
  const kind = nodeKind(defs, target.type);
  if (kind.kind === "missing" || !Array.isArray(target.widgets_values)) return;
  const specs = nodeWidgetSpecs(target, kind.def);
  const index = specs.findIndex((w) => w.name === name);
  const value = target.widgets_values[index];
  const next = specs[index + 1];
  primitive.widgets_values = next?.kind === "control" ? [value, "fixed"] : [value];
}

/** Deletes nodes and every link touching them. */
export function removeNodes(graph: Graph, ids: Iterable<number>): void {
  const doomed = new Set(ids);
  for (const link of [...graph.links])
    if (doomed.has(link.origin_id) || doomed.has(link.target_id)) removeLink(graph, link.id);
  graph.nodes = graph.nodes.filter((n) => !doomed.has(n.id));
}

/** Sets one widget value; when that changes which widgets exist (a dynamic combo), values move by name. */
export function setWidgetValue(graph: Graph, defs: ObjectInfo, nodeId: number, index: number, value: unknown): void {
  const node = findNode(graph, nodeId);
  const kind = nodeKind(defs, node.type);
  if (node.widgets_values && !Array.isArray(node.widgets_values)) {
    // Some custom nodes save their values by widget name; keep that shape.
    const spec = kind.kind === "missing" ? undefined : widgetSpecs(kind.def)[index];
    if (spec) node.widgets_values[spec.name] = value;
    return;
  }
  if (!node.widgets_values) node.widgets_values = [];
  const values = node.widgets_values as unknown[];
  const before = kind.kind === "missing" ? [] : widgetSpecs(kind.def, values);
  values[index] = value;
  if (kind.kind === "missing") return;
  const after = widgetSpecs(kind.def, values);
  if (after.map((w) => w.name).join() === before.map((w) => w.name).join()) return;
  const old = new Map(before.map((w, i) => [w.name, values[i]]));
  node.widgets_values = after.map((w) => (old.has(w.name) ? old.get(w.name) : w.defaultValue));
}

/** Sets `mode` on every node, or back to normal when they all already have it (a toggle). */
export function toggleMode(graph: Graph, ids: number[], mode: number): void {
  const nodes = graph.nodes.filter((n) => ids.includes(n.id));
  const all = nodes.length > 0 && nodes.every((n) => n.mode === mode);
  for (const node of nodes) node.mode = all ? 0 : mode;
}

export function moveNodes(graph: Graph, moves: Map<number, [number, number]>): void {
  for (const node of graph.nodes) {
    const pos = moves.get(node.id);
    if (pos) node.pos = pos;
  }
}

function inside(node: EditorNode, [x, y, w, h]: Group["bounding"]): boolean {
  return node.pos[0] >= x && node.pos[1] >= y && node.pos[0] < x + w && node.pos[1] < y + h;
}

/** Nodes whose top-left corner lies in a group: the ones that move with it. */
export function nodesInGroup(graph: Graph, group: Group): number[] {
  return graph.nodes.filter((n) => inside(n, group.bounding)).map((n) => n.id);
}

/** A group framing the given nodes (sizes as the canvas measured them). */
export function addGroup(graph: Graph, boxes: { pos: [number, number]; size: [number, number] }[],
                         title = "Group"): Group {
  const pad = 20;
  const x0 = Math.min(...boxes.map((b) => b.pos[0])) - pad;
  const y0 = Math.min(...boxes.map((b) => b.pos[1])) - pad - 34;
  const x1 = Math.max(...boxes.map((b) => b.pos[0] + b.size[0])) + pad;
  const y1 = Math.max(...boxes.map((b) => b.pos[1] + b.size[1])) + pad;
  const id = graph.groups.reduce((m, g) => Math.max(m, g.id ?? 0), 0) + 1;
  const group: Group = { id, title, bounding: [x0, y0, x1 - x0, y1 - y0], color: "#3f789e", font_size: 24, flags: {} };
  graph.groups.push(group);
  return group;
}

/** Nodes and the links they need, detached from a graph: what copy puts on the clipboard. */
export interface Clip {
  nodes: EditorNode[];
  links: Link[];
}

export function copyNodes(graph: Graph, ids: number[]): Clip {
  const chosen = new Set(ids);
  return {
    nodes: structuredClone(graph.nodes.filter((n) => chosen.has(n.id))),
    links: structuredClone(graph.links.filter((l) => chosen.has(l.target_id))),
  };
}

/** Pastes a clip at an offset with fresh ids; `keepInputLinks` also reconnects links from outside the clip. */
export function pasteNodes(graph: Graph, clip: Clip, offset: [number, number], keepInputLinks = false): number[] {
  const ids = new Map<number, number>();
  for (const src of clip.nodes) {
    const node: EditorNode = structuredClone(src);
    node.id = ++graph.lastNodeId;
    node.pos = [src.pos[0] + offset[0], src.pos[1] + offset[1]];
    node.inputs = node.inputs.filter((i) => !(i.widget && i.link != null && !keepInputLinks && !clipHasOrigin(clip, src, i)));
    for (const input of node.inputs) input.link = null;
    for (const output of node.outputs) output.links = [];
    ids.set(src.id, node.id);
    graph.nodes.push(node);
  }
  for (const link of clip.links) {
    const targetId = ids.get(link.target_id);
    const originId = ids.get(link.origin_id) ?? (keepInputLinks ? link.origin_id : undefined);
    if (targetId === undefined || originId === undefined || !graph.nodes.some((n) => n.id === originId)) continue;
    const src = clip.nodes.find((n) => n.id === link.target_id)!;
    const target = findNode(graph, targetId);
    const slot = target.inputs.findIndex((i) => i.name === src.inputs[link.target_slot]?.name);
    if (slot >= 0) addLink(graph, originId, link.origin_slot, targetId, slot, link.type);
  }
  return [...ids.values()];
}

function clipHasOrigin(clip: Clip, node: EditorNode, input: NodeInput): boolean {
  const link = clip.links.find((l) => l.id === input.link && l.target_id === node.id);
  return !!link && clip.nodes.some((n) => n.id === link.origin_id);
}
