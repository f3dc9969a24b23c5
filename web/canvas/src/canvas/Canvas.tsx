/** The React Flow canvas: renders the active graph and turns gestures and shortcuts into store edits. */
import {
  Background, type Connection, Controls, type Edge, type FinalConnectionState, MiniMap, type Node, type NodeChange,
  ReactFlow, ReactFlowProvider, useReactFlow, type Viewport,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import * as actions from "../actions";
import { extensions } from "../extensions";
import { addNode, connect, findNode, inputType, moveNodes, nodesInGroup, removeLink } from "../graph/edits";
import { categoryTree, type SearchHit } from "../graph/search";
import { typeColor, typesCompatible } from "../graph/sockets";
import { type EditorNode, type Graph, type Link, MODE_BYPASS, MODE_NEVER } from "../graph/types";
import { activeGraph, useGraphStore } from "../store/graphStore";
import { ContextMenu, type MenuItem, treeToItems } from "./ContextMenu";
import { type GroupData, GroupView } from "./GroupView";
import { type NodeData, NodeView } from "./NodeView";
import { type SearchRequest, SearchBox } from "./SearchBox";

// Not "group": React Flow styles its own built-in group type.
const nodeTypes = { dl: NodeView, dlgroup: GroupView };
const NODE_COLORS: [string, string, string][] = [
  ["red", "#322", "#533"], ["brown", "#332922", "#593930"], ["green", "#232", "#353"], ["blue", "#223", "#335"],
  ["pale blue", "#2a363b", "#3f5159"], ["cyan", "#233", "#355"], ["purple", "#323", "#535"], ["yellow", "#432", "#653"],
  ["black", "#222", "#000"],
];

type Measured = { width: number; height: number };

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
}

/** React Flow nodes for a graph, reusing the object of every node that did not change (keeps 300-node graphs fast). */
function useFlowNodes(graph: Graph, selection: string[], measured: Map<string, Measured>, version: number): Node[] {
  const cache = useRef(new Map<string, { key: unknown[]; node: Node }>());
  return useMemo(() => {
    const selected = new Set(selection);
    const out: Node[] = [];
    const next = new Map<string, { key: unknown[]; node: Node }>();
    const reuse = (id: string, key: unknown[], make: () => Node) => {
      const hit = cache.current.get(id);
      const node = hit && hit.key.every((k, i) => k === key[i]) ? hit.node : make();
      next.set(id, { key, node });
      out.push(node);
    };
    graph.groups.forEach((group, index) => {
      const id = `g${index}`;
      reuse(id, [group, selected.has(id), measured.get(id)], () => ({
        // Far below nodes, so that even selected (which React Flow raises by 1000) it stays behind them.
        id, type: "dlgroup", position: { x: group.bounding[0], y: group.bounding[1] }, zIndex: -2000,
        data: { group, index } satisfies GroupData, selected: selected.has(id), measured: measured.get(id),
        dragHandle: ".dl-group-title",
      }));
    });
    for (const node of graph.nodes) {
      const id = String(node.id);
      reuse(id, [node, selected.has(id), measured.get(id)], () => ({
        id, type: "dl", position: { x: node.pos[0], y: node.pos[1] }, data: { node } satisfies NodeData,
        selected: selected.has(id), measured: measured.get(id),
      }));
    }
    cache.current = next;
    return out;
    // `version` changes when measurements arrive, which live in a mutable map.
  }, [graph.nodes, graph.groups, selection, measured, version]);
}

function edgeFor(link: Link, nodes: Map<number, EditorNode>, selected: boolean): Edge | null {
  const target = nodes.get(link.target_id);
  const input = target?.inputs[link.target_slot];
  if (!input || !nodes.has(link.origin_id)) return null;
  return {
    id: `l${link.id}`, source: String(link.origin_id), sourceHandle: `o:${link.origin_slot}`,
    target: String(link.target_id), targetHandle: `i:${input.name}`, selected,
    style: { stroke: typeColor(link.type), strokeWidth: selected ? 4 : 2.5 },
  };
}

function CanvasInner() {
  const graph = useGraphStore((s) => activeGraph(s));
  const activeId = useGraphStore((s) => s.activeId);
  const fit = useGraphStore((s) => s.tabs.find((t) => t.id === s.activeId)?.fit);
  const selection = useGraphStore((s) => s.selection);
  const defs = useGraphStore((s) => s.defs);
  const store = useGraphStore.getState;
  const flow = useReactFlow();
  const measured = useRef(new Map<string, Measured>()).current;
  const [measureVersion, setMeasureVersion] = useState(0);
  const [selectedEdges, setSelectedEdges] = useState<string[]>([]);
  const [search, setSearch] = useState<SearchRequest | null>(null);
  const [menu, setMenu] = useState<{ x: number; y: number; items: MenuItem[] } | null>(null);
  const mouse = useRef({ x: 0, y: 0 });
  const groupDrag = useRef<{ index: number; members: number[] } | null>(null);
  const wrapper = useRef<HTMLDivElement>(null);

  const nodes = useFlowNodes(graph, selection, measured, measureVersion);
  const edges = useMemo(() => {
    const byId = new Map(graph.nodes.map((n) => [n.id, n]));
    const chosen = new Set(selectedEdges);
    return graph.links.map((l) => edgeFor(l, byId, chosen.has(`l${l.id}`))).filter((e): e is Edge => e !== null);
  }, [graph.links, graph.nodes, selectedEdges]);

  const onNodesChange = useCallback((changes: NodeChange[]) => {
    let selectionChanged = false;
    const chosen = new Set(store().selection);
    const moves = new Map<number, [number, number]>();
    let dragging = false;
    let dragEnded = false;
    let measuredChanged = false;
    for (const change of changes) {
      if (change.type === "select") {
        selectionChanged = true;
        if (change.selected) chosen.add(change.id);
        else chosen.delete(change.id);
      } else if (change.type === "dimensions" && change.dimensions) {
        measured.set(change.id, change.dimensions);
        measuredChanged = true;
      } else if (change.type === "position") {
        if (change.dragging === false) dragEnded = true;
        if (!change.position) continue;
        dragging = true;
        if (change.id.startsWith("g")) moveGroup(Number(change.id.slice(1)), change.position.x, change.position.y);
        else moves.set(Number(change.id), [change.position.x, change.position.y]);
      }
    }
    if (measuredChanged) setMeasureVersion((v) => v + 1);
    if (dragging) {
      store().beginGesture();
      if (moves.size) store().editTransient((g) => moveNodes(g, moves));
    }
    if (dragEnded) {
      groupDrag.current = null;
      store().endGesture();
    }
    if (selectionChanged) store().select([...chosen]);
  }, []);

  /** A group moved to (x, y): its members follow (the members are fixed when the drag starts). */
  const moveGroup = (index: number, x: number, y: number) => {
    const g0 = activeGraph(store());
    const group = g0.groups[index];
    if (!group) return;
    if (groupDrag.current?.index !== index) groupDrag.current = { index, members: nodesInGroup(g0, group) };
    const dx = x - group.bounding[0];
    const dy = y - group.bounding[1];
    const members = groupDrag.current.members;
    store().beginGesture();
    store().editTransient((g) => {
      const b = g.groups[index].bounding;
      g.groups[index].bounding = [x, y, b[2], b[3]];
      for (const n of g.nodes) if (members.includes(n.id)) n.pos = [n.pos[0] + dx, n.pos[1] + dy];
    });
  };

  const outputTypeOf = (nodeId: string, handle: string | null | undefined): string | undefined => {
    const node = activeGraph(store()).nodes.find((n) => String(n.id) === nodeId);
    return node?.outputs[Number(handle?.slice(2))]?.type;
  };
  const inputTypeOf = (nodeId: string, handle: string | null | undefined): string | undefined => {
    const node = activeGraph(store()).nodes.find((n) => String(n.id) === nodeId);
    return node && handle ? inputType(store().defs, node, handle.slice(2)) : undefined;
  };

  const isValidConnection = useCallback((c: Connection | Edge) => {
    if (c.source === c.target) return false;
    const out = outputTypeOf(c.source, c.sourceHandle);
    const inp = inputTypeOf(c.target, c.targetHandle);
    return out !== undefined && inp !== undefined && typesCompatible(out, inp);
  }, []);

  const onConnect = useCallback((c: Connection) => {
    store().edit((g) => {
      connect(g, store().defs, Number(c.source), Number(c.sourceHandle!.slice(2)), Number(c.target), c.targetHandle!.slice(2));
    });
  }, []);

  /** Dragging a link's end moves it to another input; dropping it on empty canvas removes it. */
  const reconnected = useRef(false);
  const onReconnect = useCallback((old: Edge, c: Connection) => {
    reconnected.current = true;
    store().edit((g) => {
      removeLink(g, Number(old.id.slice(1)));
      connect(g, store().defs, Number(c.source), Number(c.sourceHandle!.slice(2)), Number(c.target), c.targetHandle!.slice(2));
    });
  }, []);
  const onReconnectEnd = useCallback((_: unknown, old: Edge) => {
    if (!reconnected.current) store().edit((g) => removeLink(g, Number(old.id.slice(1))));
    reconnected.current = false;
  }, []);

  const openSearchAt = (clientX: number, clientY: number, extra: Partial<SearchRequest> = {}) => {
    const box = wrapper.current!.getBoundingClientRect();
    setSearch({ screen: { x: clientX - box.left, y: clientY - box.top },
                flow: flow.screenToFlowPosition({ x: clientX, y: clientY }), ...extra });
  };

  const onConnectEnd = useCallback((event: MouseEvent | TouchEvent, state: FinalConnectionState) => {
    if (state.isValid || state.toNode || !state.fromHandle || !state.fromNode) return;
    const point = "changedTouches" in event ? event.changedTouches[0] : event;
    const from = { nodeId: Number(state.fromNode.id), handle: state.fromHandle.id ?? "" };
    const filter = state.fromHandle.type === "source"
      ? { fromOutput: outputTypeOf(state.fromNode.id, state.fromHandle.id) ?? "*" }
      : { fromInput: inputTypeOf(state.fromNode.id, state.fromHandle.id) ?? "*" };
    openSearchAt(point.clientX, point.clientY, { filter, from });
  }, []);

  const pick = (hit: SearchHit) => {
    const request = search!;
    setSearch(null);
    let created: number | undefined;
    store().edit((g) => {
      const node = addNode(g, store().defs, hit.type, [request.flow.x, request.flow.y]);
      created = node.id;
      const from = request.from;
      if (!from || hit.slot === undefined) return;
      if (request.filter?.fromOutput !== undefined)
        connect(g, store().defs, from.nodeId, Number(from.handle.slice(2)), node.id, String(hit.slot));
      else connect(g, store().defs, node.id, Number(hit.slot), from.nodeId, from.handle.slice(2));
    });
    if (created !== undefined) store().select([String(created)]);
  };

  const addAt = (type: string, at: { x: number; y: number }) => {
    store().edit((g) => { addNode(g, store().defs, type, [at.x, at.y]); });
  };

  const nodeMenu = (node: EditorNode): MenuItem[] => {
    const ids = store().selection.includes(String(node.id)) ? actions.selectedNodeIds() : [node.id];
    const forEach = (fn: (n: EditorNode) => void) => store().edit((g) => g.nodes.filter((n) => ids.includes(n.id)).forEach(fn));
    return [
      { label: node.flags.collapsed ? "Expand" : "Collapse", run: () => forEach((n) => { n.flags = { ...n.flags, collapsed: !node.flags.collapsed }; }) },
      { label: node.mode === MODE_BYPASS ? "Remove bypass (Ctrl+B)" : "Bypass (Ctrl+B)", run: () => { store().select(ids.map(String)); actions.toggleSelectionMode(MODE_BYPASS); } },
      { label: node.mode === MODE_NEVER ? "Unmute (Ctrl+M)" : "Mute (Ctrl+M)", run: () => { store().select(ids.map(String)); actions.toggleSelectionMode(MODE_NEVER); } },
      { label: "Colors", children: [
        { label: "no color", run: () => forEach((n) => { delete n.color; delete n.bgcolor; }) },
        ...NODE_COLORS.map(([label, color, bgcolor]) => ({ label, run: () => forEach((n) => { n.color = color; n.bgcolor = bgcolor; }) })),
      ] },
      { label: "Clone", run: () => { store().select(ids.map(String)); actions.copySelection();
                                     actions.paste([node.pos[0] + 30, node.pos[1] + 30], false); } },
      ...extensions.flatMap((ext) => (ext.nodeMenu ?? []).map((item) => ({ label: item.label, run: () => item.run(window.diffloom!, node.id) }))),
      { label: "Delete", run: () => { store().select(ids.map(String)); actions.deleteSelection(); } },
    ];
  };

  const groupBoxes = () => actions.selectedNodeIds().map((id) => {
    const n = findNode(activeGraph(store()), id);
    const m = measured.get(String(id));
    return { pos: n.pos, size: [m?.width ?? n.size[0], m?.height ?? n.size[1]] as [number, number] };
  });

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e.target)) return;
      const ctrl = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      const at = flow.screenToFlowPosition(mouse.current);
      const run = (fn: () => void) => { e.preventDefault(); fn(); };
      if (ctrl && key === "z" && !e.shiftKey) run(() => store().undo());
      else if (ctrl && (key === "y" || (key === "z" && e.shiftKey))) run(() => store().redo());
      else if (ctrl && key === "c") run(actions.copySelection);
      else if (ctrl && key === "v") run(() => actions.paste([at.x, at.y], e.shiftKey));
      else if (ctrl && key === "b") run(() => actions.toggleSelectionMode(MODE_BYPASS));
      else if (ctrl && key === "m") run(() => actions.toggleSelectionMode(MODE_NEVER));
      else if (ctrl && key === "g") run(() => actions.groupSelection(groupBoxes()));
      else if (ctrl && key === "a") run(() => store().select(activeGraph(store()).nodes.map((n) => String(n.id))));
      else if (!ctrl && (key === "delete" || key === "backspace")) run(() => {
        const links = selectedEdgesRef.current.map((id) => Number(id.slice(1)));
        if (links.length) store().edit((g) => links.forEach((l) => removeLink(g, l)));
        setSelectedEdges([]);
        actions.deleteSelection();
      });
      else if (!ctrl && key === "." ) run(() => fitGraph(200));
      else if (!ctrl && e.altKey && key === "c") run(() => {
        const ids = actions.selectedNodeIds();
        store().edit((g) => g.nodes.filter((n) => ids.includes(n.id)).forEach((n) => { n.flags = { ...n.flags, collapsed: !n.flags.collapsed }; }));
      });
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [flow]);

  const ds = (graph.rest.extra as { ds?: { scale: number; offset: [number, number] } } | undefined)?.ds;
  /** The viewport showing the whole graph, from saved positions and sizes (off-screen nodes are never measured). */
  const fitViewport = (): Viewport | undefined => {
    const g = activeGraph(store());
    const boxes = [
      ...g.nodes.map((n) => { const m = measured.get(String(n.id)); return [n.pos[0], n.pos[1], m?.width ?? n.size[0], m?.height ?? n.size[1]]; }),
      ...g.groups.map((gr) => gr.bounding),
    ];
    if (!boxes.length) return undefined;
    const x0 = Math.min(...boxes.map((b) => b[0]));
    const y0 = Math.min(...boxes.map((b) => b[1]));
    const w = Math.max(...boxes.map((b) => b[0] + b[2])) - x0;
    const h = Math.max(...boxes.map((b) => b[1] + b[3])) - y0;
    const box = wrapper.current?.getBoundingClientRect() ?? { width: window.innerWidth, height: window.innerHeight - 40 };
    const zoom = Math.max(0.05, Math.min(1, (0.9 * box.width) / w, (0.9 * box.height) / h));
    return { x: (box.width - w * zoom) / 2 - x0 * zoom, y: (box.height - h * zoom) / 2 - y0 * zoom, zoom };
  };
  const fitGraph = (duration = 0) => {
    const vp = fitViewport();
    if (vp) void flow.setViewport(vp, { duration });
  };

  const selectedEdgesRef = useRef<string[]>([]);
  selectedEdgesRef.current = selectedEdges;

  // Computed once per mounted tab (the flow is keyed by tab): a saved view, or the whole graph for opened files.
  const defaultViewport = useMemo(() => (fit || !ds ? fitViewport()
    : { x: ds.offset[0] * ds.scale, y: ds.offset[1] * ds.scale, zoom: ds.scale }), [activeId]);
  const onMoveEnd = (_: unknown, vp: Viewport) => {
    store().editTransient((g) => {
      const extra = { ...((g.rest.extra as Record<string, unknown>) ?? {}) };
      extra.ds = { scale: vp.zoom, offset: [vp.x / vp.zoom, vp.y / vp.zoom] };
      g.rest.extra = extra;
    });
  };

  return (
    <div className="dl-canvas" ref={wrapper}
      onMouseMove={(e) => { mouse.current = { x: e.clientX, y: e.clientY }; }}
      onDoubleClick={(e) => {
        if ((e.target as HTMLElement).classList.contains("react-flow__pane")) openSearchAt(e.clientX, e.clientY);
      }}
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => { e.preventDefault(); if (e.dataTransfer.files.length) void actions.openFiles(e.dataTransfer.files); }}>
      <ReactFlow key={activeId} nodes={nodes} edges={edges} nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={(changes) => {
          const chosen = new Set(selectedEdgesRef.current);
          for (const c of changes) if (c.type === "select") (c.selected ? chosen.add(c.id) : chosen.delete(c.id));
          setSelectedEdges([...chosen]);
        }}
        onConnect={onConnect} onConnectEnd={onConnectEnd}
        onReconnectStart={() => { reconnected.current = false; }} onReconnect={onReconnect} onReconnectEnd={onReconnectEnd} isValidConnection={isValidConnection}
        defaultViewport={defaultViewport} onMoveEnd={onMoveEnd}
        zoomOnDoubleClick={false} deleteKeyCode={null} selectionKeyCode="Shift" multiSelectionKeyCode={["Shift", "Control", "Meta"]}
        minZoom={0.05} maxZoom={4} onlyRenderVisibleElements proOptions={{ hideAttribution: true }}
        onPaneClick={() => { setMenu(null); }}
        onPaneContextMenu={(e) => {
          e.preventDefault();
          const at = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY });
          const box = wrapper.current!.getBoundingClientRect();
          setMenu({ x: e.clientX - box.left, y: e.clientY - box.top, items: [
            { label: "Add Node", children: treeToItems(categoryTree(defs), (type) => addAt(type, at)) },
            { label: "Add Group", run: () => store().edit((g) => { g.groups.push({ id: g.groups.length + 1, title: "Group", bounding: [at.x, at.y, 400, 300], color: "#3f789e", font_size: 24, flags: {} }); }) },
            { label: "Add Reroute", run: () => addAt("Reroute", at) },
            { label: "Fit view (.)", run: () => fitGraph(200) },
            ...extensions.flatMap((ext) => (ext.commands ?? []).map((c) => ({ label: c.label, run: () => c.run(window.diffloom!) }))),
          ] });
        }}
        onNodeContextMenu={(e, node) => {
          e.preventDefault();
          const box = wrapper.current!.getBoundingClientRect();
          if (node.type === "dlgroup") {
            const index = Number(node.id.slice(1));
            setMenu({ x: e.clientX - box.left, y: e.clientY - box.top, items: [
              { label: "Color", children: NODE_COLORS.map(([label, , bg]) => ({ label, run: () => store().edit((g) => { g.groups[index].color = bg; }) })) },
              { label: "Remove group", run: () => store().edit((g) => { g.groups.splice(index, 1); }) },
            ] });
            return;
          }
          const editorNode = activeGraph(store()).nodes.find((n) => String(n.id) === node.id);
          if (editorNode) setMenu({ x: e.clientX - box.left, y: e.clientY - box.top, items: nodeMenu(editorNode) });
        }}>
        <Background gap={20} color="#333" />
        <Controls showInteractive={false} />
        <MiniMap pannable zoomable nodeColor={(n) => (n.type === "dlgroup" ? "#2a3a4a" : "#888")} maskColor="rgba(0,0,0,0.5)" />
      </ReactFlow>
      {search && <SearchBox request={search} onPick={pick} onClose={() => setSearch(null)} />}
      {menu && <ContextMenu {...menu} onClose={() => setMenu(null)} />}
      {menu && <div className="dl-menu-backdrop" onMouseDown={() => setMenu(null)} onContextMenu={(e) => { e.preventDefault(); setMenu(null); }} />}
    </div>
  );
}

export function Canvas() {
  return (
    <ReactFlowProvider>
      <CanvasInner />
    </ReactFlowProvider>
  );
}
