/** Fitting open graphs to changed node definitions (a node pack was reloaded): values kept by name, new slots added. */
import { nodeWidgetSpecs, outputType, socketInputs, widgetSpecs } from "./objectInfo";
import type { EditorNode, Graph, NodeDef, ObjectInfo } from "./types";

/** Widget names made unique by occurrence ("control_after_generate" follows every seed). */
function widgetKeys(names: string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((name) => {
    const n = seen.get(name) ?? 0;
    seen.set(name, n + 1);
    return `${name}#${n}`;
  });
}

/** widgets_values for the new definition: each widget keeps its value by name, new widgets get their default. */
function adaptWidgetValues(node: EditorNode, oldDef: NodeDef, newDef: NodeDef): unknown[] | undefined {
  const values = node.widgets_values;
  if (!Array.isArray(values)) return undefined; // saved by name (or absent): already independent of the order
  const oldKeys = widgetKeys(nodeWidgetSpecs(node, oldDef).map((w) => w.name));
  const byKey = new Map(oldKeys.map((key, i) => [key, values[i]] as const).filter(([, v]) => v !== undefined));
  const newSpecs = widgetSpecs(newDef, values);
  return widgetKeys(newSpecs.map((w) => w.name)).map((key, i) => (byKey.has(key) ? byKey.get(key) : newSpecs[i].defaultValue));
}

/** One node fitted to its type's new definition; links and every other field are left as they are. */
function adaptNode(node: EditorNode, oldDef: NodeDef, newDef: NodeDef): EditorNode {
  const next: EditorNode = { ...node };
  const widgetValues = adaptWidgetValues(node, oldDef, newDef);
  if (widgetValues) next.widgets_values = widgetValues;
  const sockets = socketInputs(newDef);
  const wanted = new Set([...sockets.map((s) => s.name), ...widgetSpecs(newDef).map((w) => w.name)]);
  // An input the type no longer has goes away unless a link still uses it (that link stays visible, for the user).
  const kept = node.inputs.filter((input) => input.link != null || wanted.has(input.name));
  const have = new Set(kept.map((input) => input.name));
  next.inputs = [...kept, ...sockets.filter((s) => !have.has(s.name)).map((s) => ({ name: s.name, type: s.type, link: null }))];
  if (newDef.output.length > node.outputs.length)
    next.outputs = [...node.outputs, ...newDef.output.slice(node.outputs.length).map((t, i) => ({
      name: newDef.output_name[node.outputs.length + i] ?? String(t), type: outputType(t), links: [] as number[] }))];
  return next;
}

/** The graph with every node whose definition changed fitted to the new one; the same object when nothing changed.
 * Nodes whose type is gone are kept untouched (they are drawn as placeholders and keep their data). */
export function adaptGraph(graph: Graph, oldDefs: ObjectInfo, newDefs: ObjectInfo): Graph {
  let changed = false;
  const nodes = graph.nodes.map((node) => {
    const oldDef = oldDefs[node.type];
    const newDef = newDefs[node.type];
    if (!oldDef || !newDef || JSON.stringify(oldDef) === JSON.stringify(newDef)) return node;
    changed = true;
    return adaptNode(node, oldDef, newDef);
  });
  return changed ? { ...graph, nodes } : graph;
}
