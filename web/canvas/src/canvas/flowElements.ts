/** The graph as React Flow nodes and edges, reusing unchanged objects so React Flow redraws only what changed. */
import type { Edge, Node } from "@xyflow/react";
import { useMemo, useRef } from "react";
import { typeColor } from "../graph/sockets";
import type { EditorNode, Graph, Link } from "../graph/types";
import type { GroupData } from "./GroupView";
import type { NodeData } from "./NodeView";
import type { Measured } from "./viewport";

export /** React Flow nodes for a graph, reusing the object of every node that did not change (keeps 300-node graphs fast). */
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
    // `version` says the mutable `measured` map has news.
  }, [graph.nodes, graph.groups, selection, measured, version]);
}

export function edgeFor(link: Link, nodes: Map<number, EditorNode>, selected: boolean): Edge | null {
  const target = nodes.get(link.target_id);
  const input = target?.inputs[link.target_slot];
  if (!input || !nodes.has(link.origin_id)) return null;
  return {
    id: `l${link.id}`, source: String(link.origin_id), sourceHandle: `o:${link.origin_slot}`,
    target: String(link.target_id), targetHandle: `i:${input.name}`, selected,
    style: { stroke: typeColor(link.type), strokeWidth: selected ? 4 : 2.5 },
  };
}

export function useFlowEdges(graph: Graph, selectedEdges: string[]): Edge[] {
  return useMemo(() => {
    const byId = new Map(graph.nodes.map((n) => [n.id, n]));
    const chosen = new Set(selectedEdges);
    return graph.links.map((l) => edgeFor(l, byId, chosen.has(`l${l.id}`))).filter((e): e is Edge => e !== null);
  }, [graph.links, graph.nodes, selectedEdges]);
}
