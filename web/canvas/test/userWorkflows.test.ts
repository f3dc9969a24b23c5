import { afterEach, describe, expect, it, vi } from "vitest";
import { userWorkflows, workflowFileName, workflowUrl } from "../src/api/userWorkflows";

describe("workflows in user storage", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("names files with .json and refuses names that would leave the folder", () => {
    expect(workflowFileName(" portrait ")).toBe("portrait.json");
    expect(workflowFileName("sdxl/base.JSON")).toBe("sdxl/base.JSON");
    for (const bad of ["", "  ", "../secrets", "a/../../b", "a//b", "a\\b"]) expect(() => workflowFileName(bad)).toThrow();
  });

  it("puts the whole path in one URL segment, as ComfyUI's front end does", () => {
    expect(workflowUrl("sdxl/base b.json")).toBe("/api/userdata/workflows%2Fsdxl%2Fbase%20b.json");
  });

  it("lists saved workflows sorted, and none before the folder exists", async () => {
    const fetch = vi.fn()
      .mockResolvedValueOnce(new Response(JSON.stringify(["b.json", "notes.txt", "a.json"]), { status: 200 }))
      .mockResolvedValueOnce(new Response("directory not found", { status: 404 }))
      .mockResolvedValueOnce(new Response("boom", { status: 500 }));
    vi.stubGlobal("fetch", fetch);
    expect(await userWorkflows.list()).toEqual(["a.json", "b.json"]);
    expect(fetch.mock.calls[0][0]).toBe("/api/userdata?dir=workflows&recurse=true&split=false");
    expect(await userWorkflows.list()).toEqual([]);
    await expect(userWorkflows.list()).rejects.toThrow(/500/);
  });
});
