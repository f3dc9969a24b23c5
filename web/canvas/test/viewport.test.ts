import { describe, expect, it } from "vitest";
import { dsFromViewport, fitViewport, viewportFromDs } from "../src/canvas/viewport";
import { readWorkflow } from "../src/graph/workflow";

const node = (id: number, pos: [number, number], size: [number, number]) =>
  ({ id, type: "X", pos, size, flags: {}, order: 0, mode: 0, inputs: [], outputs: [], properties: {} });

describe("viewport", () => {
  it("fits every node and group, centred, never above 100 %", () => {
    const graph = readWorkflow({ nodes: [node(1, [0, 0], [100, 100]), node(2, [1900, 900], [100, 100])], links: [],
                                 groups: [{ title: "g", bounding: [-100, 0, 50, 50] }] });
    const vp = fitViewport(graph, new Map(), 1000, 500)!;
    expect(vp.zoom).toBeCloseTo(0.9 * 1000 / 2100);
    const left = -100 * vp.zoom + vp.x;
    const right = 2000 * vp.zoom + vp.x;
    expect(left).toBeCloseTo(1000 - right); // centred horizontally
    const small = readWorkflow({ nodes: [node(1, [10, 10], [100, 50])], links: [] });
    expect(fitViewport(small, new Map(), 1000, 500)!.zoom).toBe(1);
    expect(fitViewport(readWorkflow({ nodes: [], links: [] }), new Map(), 1000, 500)).toBeUndefined();
  });

  it("uses measured sizes where known", () => {
    const graph = readWorkflow({ nodes: [node(1, [0, 0], [100, 100])], links: [] });
    const measured = new Map([["1", { width: 1800, height: 100 }]]);
    expect(fitViewport(graph, measured, 1000, 500)!.zoom).toBeCloseTo(0.5);
  });

  it("converts ComfyUI's ds both ways", () => {
    const ds = { scale: 0.5, offset: [100, -40] as [number, number] };
    expect(viewportFromDs(ds)).toEqual({ x: 50, y: -20, zoom: 0.5 });
    expect(dsFromViewport(viewportFromDs(ds))).toEqual(ds);
  });
});
