/** Viewport arithmetic: fitting a graph from its saved positions and sizes, and ComfyUI's `extra.ds` view. */
import type { Viewport } from "@xyflow/react";
import type { Graph } from "../graph/types";

export type Measured = { width: number; height: number };

/** The viewport showing every node and group, at most 100 % zoom; off-screen nodes count by their saved size. */
export function fitViewport(graph: Graph, measured: Map<string, Measured>, width: number, height: number,
                            margin = 0.9): Viewport | undefined {
  const boxes = [
    ...graph.nodes.map((n) => {
      const m = measured.get(String(n.id));
      return [n.pos[0], n.pos[1], m?.width ?? n.size[0], m?.height ?? n.size[1]];
    }),
    ...graph.groups.map((g) => g.bounding),
  ];
  if (!boxes.length) return undefined;
  const x0 = Math.min(...boxes.map((b) => b[0]));
  const y0 = Math.min(...boxes.map((b) => b[1]));
  const w = Math.max(...boxes.map((b) => b[0] + b[2])) - x0;
  const h = Math.max(...boxes.map((b) => b[1] + b[3])) - y0;
  const zoom = Math.max(0.05, Math.min(1, (margin * width) / w, (margin * height) / h));
  return { x: (width - w * zoom) / 2 - x0 * zoom, y: (height - h * zoom) / 2 - y0 * zoom, zoom };
}

interface Ds {
  scale: number;
  offset: [number, number];
}

/** ComfyUI draws a point p at (p + offset) · scale; React Flow at p · zoom + (x, y). */
export function viewportFromDs(ds: Ds): Viewport {
  return { x: ds.offset[0] * ds.scale, y: ds.offset[1] * ds.scale, zoom: ds.scale };
}

export function dsFromViewport(vp: Viewport): Ds {
  return { scale: vp.zoom, offset: [vp.x / vp.zoom, vp.y / vp.zoom] };
}

export function savedDs(graph: Graph): Ds | undefined {
  return (graph.rest.extra as { ds?: Ds } | undefined)?.ds;
}
