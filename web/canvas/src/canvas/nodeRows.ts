/** What a node shows, row by row: input sockets, outputs and widgets (with their index in widgets_values). */
import { nodeKind } from "../graph/nodeKinds";
import { CONTROL_VALUES, nodeWidgetSpecs, widgetSpecs, type WidgetSpec } from "../graph/objectInfo";
import type { EditorNode, Graph, ObjectInfo } from "../graph/types";

export interface SocketRow {
  name: string;
  type: string;
  label: string;
  linked: boolean;
}

export interface WidgetRow {
  spec: WidgetSpec;
  index: number;
}

export interface NodeRows {
  kind: "server" | "frontend" | "missing";
  sockets: SocketRow[];
  outputs: SocketRow[];
  widgets: WidgetRow[];
}

/** Which widget a PrimitiveNode feeds: `"<target node type>\u0000<widget name>"`, or "" when unlinked. A string, so
 * a store selector can return it without making a new object on every change. */
export function primitiveTarget(graph: Graph, node: EditorNode): string {
  const linkId = node.outputs[0]?.links?.[0];
  const link = graph.links.find((l) => l.id === linkId);
  const target = link && graph.nodes.find((n) => n.id === link.target_id);
  const input = target?.inputs[link!.target_slot];
  return target && input ? `${target.type}\u0000${input.widget?.name ?? input.name}` : "";
}

/** A PrimitiveNode's widgets follow the type of the widget input it feeds; for a combo, the target's choices. */
function primitiveWidgets(node: EditorNode, defs: ObjectInfo, target: string): WidgetSpec[] {
  const out = node.outputs[0];
  const values = Array.isArray(node.widgets_values) ? node.widgets_values : [];
  if (!out || out.type === "*" || !values.length) return [];
  const name = (out.widget as { name?: string } | undefined)?.name ?? "value";
  const [targetType, targetWidget] = target.split("\u0000");
  const targetDef = target ? defs[targetType] : undefined;
  const combo = targetDef && widgetSpecs(targetDef).find((w) => w.name === targetWidget && w.kind === "combo");
  const kinds: Record<string, WidgetSpec["kind"]> = { INT: "int", FLOAT: "float", BOOLEAN: "boolean" };
  const kind = kinds[out.type] ?? (typeof values[0] === "string" && values[0].includes("\n") ? "text" : "string");
  const specs: WidgetSpec[] = [out.type === "COMBO" && combo
    ? { ...combo, name, defaultValue: values[0] }
    : { name, kind, type: out.type, options: {}, serialize: true, defaultValue: values[0] }];
  if (values.length > 1)
    specs.push({ name: "control_after_generate", kind: "control", type: "COMBO", options: {}, values: CONTROL_VALUES,
                 serialize: false, defaultValue: "fixed" });
  return specs;
}

/** `primitive`: for a PrimitiveNode, what `primitiveTarget` says it feeds (its combo choices come from there). */
export function nodeRows(node: EditorNode, defs: ObjectInfo, primitive = ""): NodeRows {
  const kind = nodeKind(defs, node.type);
  const linkedWidgets = new Set(node.inputs.filter((i) => i.widget && i.link != null).map((i) => i.name));
  const sockets = node.inputs
    .filter((i) => !i.widget || i.link != null || kind.kind === "missing")
    .map((i) => ({ name: i.name, type: i.type, label: i.label || i.name, linked: i.link != null }));
  const outputs = node.outputs.map((o) => ({ name: o.name, type: o.type, label: o.label || o.name,
                                            linked: !!o.links?.length }));
  if (kind.kind === "missing") return { kind: "missing", sockets, outputs, widgets: [] };
  const specs = node.type === "PrimitiveNode" ? primitiveWidgets(node, defs, primitive) : nodeWidgetSpecs(node, kind.def);
  const widgets = specs.map((spec, index) => ({ spec, index })).filter((w) => !linkedWidgets.has(w.spec.name));
  return { kind: kind.kind, sockets, outputs, widgets };
}
