/** The React Flow canvas: renders the active graph and turns gestures into store edits. */
import {
  Background, type Connection, Controls, type Edge, type FinalConnectionState, MiniMap, type NodeChange, ReactFlow,
  ReactFlowProvider, useReactFlow, type Viewport,
} from "@xyflow/react";
import { useCallback, useMemo, useRef, useState } from "react";
import * as actions from "../actions";
import { addNode, connect, findNode, inputType, moveNodes, nodesInGroup, removeLink } from "../graph/edits";
import type { SearchHit } from "../graph/search";
import { typesCompatible } from "../graph/sockets";
import type { Graph } from "../graph/types";
import { activeGraph, useGraphStore } from "../store/graphStore";
import { ContextMenu, type MenuItem } from "./ContextMenu";
import { useFlowEdges, useFlowNodes } from "./flowElements";
import { GroupView } from "./GroupView";
import { groupMenu, nodeMenu, paneMenu } from "./menus";
import { NodeView } from "./NodeView";
import { type SearchRequest, SearchBox } from "./SearchBox";
import { useCanvasShortcuts } from "./shortcuts";
import { dsFromViewport, fitViewport, type Measured, savedDs, viewportFromDs } from "./viewport";

// Not "group": React Flow styles its own built-in group type.
const nodeTypes = { dl: NodeView, dlgroup: GroupView };
const store = useGraphStore.getState;

/** Handles are named `o:<output slot>` and `i:<input name>`. */
function connectHandles(g: Graph, c: Connection | Edge): void {
  connect(g, store().defs, Number(c.source), Number(c.sourceHandle!.slice(2)), Number(c.target), c.targetHandle!.slice(2));
}

function outputTypeOf(nodeId: string, handle: string | null | undefined): string | undefined {
  const node = activeGraph(store()).nodes.find((n) => String(n.id) === nodeId);
  return node?.outputs[Number(handle?.slice(2))]?.type;
}

function inputTypeOf(nodeId: string, handle: string | null | undefined): string | undefined {
  const node = activeGraph(store()).nodes.find((n) => String(n.id) === nodeId);
  return node && handle ? inputType(store().defs, node, handle.slice(2)) : undefined;
}

function isValidConnection(c: Connection | Edge): boolean {
  if (c.source === c.target) return false;
  const out = outputTypeOf(c.source, c.sourceHandle);
  const inp = inputTypeOf(c.target, c.targetHandle);
  return out !== undefined && inp !== undefined && typesCompatible(out, inp);
}

function CanvasInner() {
  const graph = useGraphStore((s) => activeGraph(s));
  const activeId = useGraphStore((s) => s.activeId);
  const fit = useGraphStore((s) => s.tabs.find((t) => t.id === s.activeId)?.fit);
  const selection = useGraphStore((s) => s.selection);
  const defs = useGraphStore((s) => s.defs);
  const flow = useReactFlow();
  const measured = useRef(new Map<string, Measured>()).current;
  const [selectedEdges, setSelectedEdges] = useState<string[]>([]);
  const selectedEdgesRef = useRef<string[]>([]);
  selectedEdgesRef.current = selectedEdges;
  const [search, setSearch] = useState<SearchRequest | null>(null);
  const [menu, setMenu] = useState<{ x: number; y: number; items: MenuItem[] } | null>(null);
  const mouse = useRef({ x: 0, y: 0 });
  const groupDrag = useRef<{ index: number; members: number[] } | null>(null);
  const reconnected = useRef(false);
  const wrapper = useRef<HTMLDivElement>(null);

  const [measureVersion, setMeasureVersion] = useState(0);
  const measureTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const nodes = useFlowNodes(graph, selection, measured, measureVersion);
  const edges = useFlowEdges(graph, selectedEdges);

  /** A group dragged to (x, y): the nodes inside it when the drag began follow it. */
  const moveGroup = (index: number, x: number, y: number) => {
    const g0 = activeGraph(store());
    const group = g0.groups[index];
    if (!group) return;
    if (groupDrag.current?.index !== index) groupDrag.current = { index, members: nodesInGroup(g0, group) };
    const [dx, dy] = [x - group.bounding[0], y - group.bounding[1]];
    const members = groupDrag.current.members;
    store().beginGesture();
    store().editTransient((g) => {
      const b = g.groups[index].bounding;
      g.groups[index].bounding = [x, y, b[2], b[3]];
      for (const n of g.nodes) if (members.includes(n.id)) n.pos = [n.pos[0] + dx, n.pos[1] + dy];
    });
  };

  const onNodesChange = useCallback((changes: NodeChange[]) => {
    const chosen = new Set(store().selection);
    const moves = new Map<number, [number, number]>();
    let [selectionChanged, dragging, dragEnded] = [false, false, false];
    for (const change of changes) {
      if (change.type === "select") {
        selectionChanged = true;
        if (change.selected) chosen.add(change.id);
        else chosen.delete(change.id);
      } else if (change.type === "dimensions" && change.dimensions) {
        // React Flow already holds the measurement and draws with it. Our node objects take it over once things
        // settle (the minimap reads it from there), not on every batch: that would redraw every node while loading.
        measured.set(change.id, change.dimensions);
        clearTimeout(measureTimer.current);
        measureTimer.current = setTimeout(() => setMeasureVersion((v) => v + 1), 250);
      } else if (change.type === "position") {
        if (change.dragging === false) dragEnded = true;
        if (!change.position) continue;
        dragging = true;
        if (change.id.startsWith("g")) moveGroup(Number(change.id.slice(1)), change.position.x, change.position.y);
        else moves.set(Number(change.id), [change.position.x, change.position.y]);
      }
    }
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

  const onConnect = useCallback((c: Connection) => store().edit((g) => connectHandles(g, c)), []);

  /** Dragging a link's end moves it to another input; dropping it on empty canvas removes it. */
  const onReconnect = useCallback((old: Edge, c: Connection) => {
    reconnected.current = true;
    store().edit((g) => {
      removeLink(g, Number(old.id.slice(1)));
      connectHandles(g, c);
    });
  }, []);
  const onReconnectEnd = useCallback((_: unknown, old: Edge) => {
    if (!reconnected.current) store().edit((g) => removeLink(g, Number(old.id.slice(1))));
    reconnected.current = false;
  }, []);

  const local = (clientX: number, clientY: number) => {
    const box = wrapper.current!.getBoundingClientRect();
    return { x: clientX - box.left, y: clientY - box.top };
  };
  const openSearchAt = (clientX: number, clientY: number, extra: Partial<SearchRequest> = {}) =>
    setSearch({ screen: local(clientX, clientY), flow: flow.screenToFlowPosition({ x: clientX, y: clientY }), ...extra });

  /** A link dropped on empty canvas opens the search, showing only nodes that can take (or give) it. */
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

  const viewportOfGraph = () => {
    const box = wrapper.current?.getBoundingClientRect() ?? { width: window.innerWidth, height: window.innerHeight - 40 };
    return fitViewport(activeGraph(store()), measured, box.width, box.height);
  };
  const fitGraph = (duration = 200) => {
    const vp = viewportOfGraph();
    if (vp) void flow.setViewport(vp, { duration });
  };

  useCanvasShortcuts({
    mouseAt: () => flow.screenToFlowPosition(mouse.current),
    fit: () => fitGraph(),
    groupSelection: () => actions.groupSelection(actions.selectedNodeIds().map((id) => {
      const n = findNode(activeGraph(store()), id);
      const m = measured.get(String(id));
      return { pos: n.pos, size: [m?.width ?? n.size[0], m?.height ?? n.size[1]] as [number, number] };
    })),
    deleteSelectedLinks: () => {
      const links = selectedEdgesRef.current.map((id) => Number(id.slice(1)));
      if (links.length) store().edit((g) => links.forEach((l) => removeLink(g, l)));
      setSelectedEdges([]);
    },
  }, [flow]);

  // Once per mounted tab (the flow is keyed by tab): the saved view, or the whole graph for a freshly opened file.
  const defaultViewport = useMemo(() => {
    const ds = savedDs(graph);
    return fit || !ds ? viewportOfGraph() : viewportFromDs(ds);
  }, [activeId]);
  const onMoveEnd = (_: unknown, vp: Viewport) => store().editTransient((g) => {
    g.rest.extra = { ...((g.rest.extra as Record<string, unknown>) ?? {}), ds: dsFromViewport(vp) };
  });

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
        onConnect={onConnect} onConnectEnd={onConnectEnd} isValidConnection={isValidConnection}
        onReconnectStart={() => { reconnected.current = false; }} onReconnect={onReconnect} onReconnectEnd={onReconnectEnd}
        defaultViewport={defaultViewport} onMoveEnd={onMoveEnd}
        zoomOnDoubleClick={false} deleteKeyCode={null} selectionKeyCode="Shift" multiSelectionKeyCode={["Shift", "Control", "Meta"]}
        minZoom={0.05} maxZoom={4} onlyRenderVisibleElements proOptions={{ hideAttribution: true }}
        onPaneClick={() => setMenu(null)}
        onPaneContextMenu={(e) => {
          e.preventDefault();
          const at = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY });
          setMenu({ ...local(e.clientX, e.clientY), items: paneMenu(defs, at, () => fitGraph()) });
        }}
        onNodeContextMenu={(e, node) => {
          e.preventDefault();
          const editorNode = activeGraph(store()).nodes.find((n) => String(n.id) === node.id);
          const items = node.type === "dlgroup" ? groupMenu(Number(node.id.slice(1))) : editorNode ? nodeMenu(editorNode) : [];
          if (items.length) setMenu({ ...local(e.clientX, e.clientY), items });
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
