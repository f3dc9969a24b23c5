/** The right-click menus: canvas (add node by category, group, reroute, extension commands), node and group. */
import * as actions from "../actions";
import { extensions } from "../extensions";
import { addNode } from "../graph/edits";
import { categoryTree } from "../graph/search";
import { type EditorNode, MODE_BYPASS, MODE_NEVER, type ObjectInfo } from "../graph/types";
import { useGraphStore } from "../store/graphStore";
import { type MenuItem, treeToItems } from "./ContextMenu";

const store = () => useGraphStore.getState();

/** ComfyUI's node colour presets: [name, title colour, body colour]. */
export const NODE_COLORS: [string, string, string][] = [
  ["red", "#322", "#533"], ["brown", "#332922", "#593930"], ["green", "#232", "#353"], ["blue", "#223", "#335"],
  ["pale blue", "#2a363b", "#3f5159"], ["cyan", "#233", "#355"], ["purple", "#323", "#535"], ["yellow", "#432", "#653"],
  ["black", "#222", "#000"],
];

export function addNodeAt(type: string, at: { x: number; y: number }): void {
  store().edit((g) => { addNode(g, store().defs, type, [at.x, at.y]); });
}

export function paneMenu(defs: ObjectInfo, at: { x: number; y: number }, fit: () => void): MenuItem[] {
  return [
    { label: "Add Node", children: treeToItems(categoryTree(defs), (type) => addNodeAt(type, at)) },
    { label: "Add Group", run: () => store().edit((g) => {
      const id = g.groups.reduce((m, gr) => Math.max(m, gr.id ?? 0), 0) + 1;
      g.groups.push({ id, title: "Group", bounding: [at.x, at.y, 400, 300], color: "#3f789e", font_size: 24, flags: {} });
    }) },
    { label: "Add Reroute", run: () => addNodeAt("Reroute", at) },
    { label: "Fit view (.)", run: fit },
    ...extensions.flatMap((ext) => (ext.commands ?? []).map((c) => ({ label: c.label, run: () => c.run(window.diffloom!) }))),
  ];
}

/** Actions on a node apply to the whole selection when the node is part of it. */
export function nodeMenu(node: EditorNode): MenuItem[] {
  const ids = store().selection.includes(String(node.id)) ? actions.selectedNodeIds() : [node.id];
  const onSelection = (fn: () => void) => () => { store().select(ids.map(String)); fn(); };
  const forEach = (fn: (n: EditorNode) => void) => () =>
    store().edit((g) => g.nodes.filter((n) => ids.includes(n.id)).forEach(fn));
  return [
    { label: node.flags.collapsed ? "Expand" : "Collapse", run: () => actions.toggleCollapsed(ids) },
    { label: node.mode === MODE_BYPASS ? "Remove bypass (Ctrl+B)" : "Bypass (Ctrl+B)", run: onSelection(() => actions.toggleSelectionMode(MODE_BYPASS)) },
    { label: node.mode === MODE_NEVER ? "Unmute (Ctrl+M)" : "Mute (Ctrl+M)", run: onSelection(() => actions.toggleSelectionMode(MODE_NEVER)) },
    { label: "Colors", children: [
      { label: "no color", run: forEach((n) => { delete n.color; delete n.bgcolor; }) },
      ...NODE_COLORS.map(([label, color, bgcolor]) => ({ label, run: forEach((n) => { n.color = color; n.bgcolor = bgcolor; }) })),
    ] },
    { label: "Clone", run: onSelection(() => { actions.copySelection(); actions.paste([node.pos[0] + 30, node.pos[1] + 30], false); }) },
    ...extensions.flatMap((ext) => (ext.nodeMenu ?? []).map((item) => ({ label: item.label, run: () => item.run(window.diffloom!, node.id) }))),
    { label: "Delete", run: onSelection(actions.deleteSelection) },
  ];
}

export function groupMenu(index: number): MenuItem[] {
  return [
    { label: "Color", children: NODE_COLORS.map(([label, , bg]) => ({ label, run: () => store().edit((g) => { g.groups[index].color = bg; }) })) },
    { label: "Remove group", run: () => store().edit((g) => { g.groups.splice(index, 1); }) },
  ];
}
