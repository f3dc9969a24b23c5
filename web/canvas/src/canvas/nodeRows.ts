/** What a node shows, row by row: input sockets, outputs and widgets (with their index in widgets_values). */
import { nodeKind } from "../graph/nodeKinds";
import { CONTROL_VALUES, nodeWidgetSpecs, type WidgetSpec } from "../graph/objectInfo";
import type { EditorNode, ObjectInfo } from "../graph/types";

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

/** A PrimitiveNode's widgets follow the type of the widget input it feeds. */
function primitiveWidgets(node: EditorNode): WidgetSpec[] {
  const out = node.outputs[0];
  const values = Array.isArray(node.widgets_values) ? node.widgets_values : [];
  if (!out || out.type === "*" || !values.length) return [];
  const name = (out.widget as { name?: string } | undefined)?.name ?? "value";
  const kinds: Record<string, WidgetSpec["kind"]> = { INT: "int", FLOAT: "float", BOOLEAN: "boolean" };
  const kind = kinds[out.type] ?? (typeof values[0] === "string" && values[0].includes("\n") ? "text" : "string");
  const specs: WidgetSpec[] = [{ name, kind, type: out.type, options: {}, serialize: true, defaultValue: values[0] }];
  if (values.length > 1)
    specs.push({ name: "control_after_generate", kind: "control", type: "COMBO", options: {}, values: CONTROL_VALUES,
                 serialize: false, defaultValue: "fixed" });
  return specs;
}

export function nodeRows(node: EditorNode, defs: ObjectInfo): NodeRows {
  const kind = nodeKind(defs, node.type);
  const linkedWidgets = new Set(node.inputs.filter((i) => i.widget && i.link != null).map((i) => i.name));
  const sockets = node.inputs
    .filter((i) => !i.widget || i.link != null || kind.kind === "missing")
    .map((i) => ({ name: i.name, type: i.type, label: i.label || i.name, linked: i.link != null }));
  const outputs = node.outputs.map((o) => ({ name: o.name, type: o.type, label: o.label || o.name,
                                            linked: !!o.links?.length }));
  if (kind.kind === "missing") return { kind: "missing", sockets, outputs, widgets: [] };
  const specs = node.type === "PrimitiveNode" ? primitiveWidgets(node) : nodeWidgetSpecs(node, kind.def);
  const widgets = specs.map((spec, index) => ({ spec, index })).filter((w) => !linkedWidgets.has(w.spec.name));
  return { kind: kind.kind, sockets, outputs, widgets };
}
