import { afterEach, describe, expect, it, vi } from "vitest";
import { submitWorkflow } from "../src/actions";
import { ApiError } from "../src/api/client";
import { extensions, registerExtension } from "../src/extensions";

const workflow = { nodes: [{ id: 1, type: "TestNumber" }, { id: 2, type: "TestSaveNumber" }], links: [] };
const prompt = { "1": { class_type: "TestNumber", inputs: { value: 5 } },
                 "2": { class_type: "TestSaveNumber", inputs: { value: ["1", 0] } } };
const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status });

/** The fetch calls made, as [url, parsed body]. */
function stubFetch(...answers: Response[]) {
  const fetch = vi.fn();
  for (const answer of answers) fetch.mockResolvedValueOnce(answer);
  vi.stubGlobal("fetch", fetch);
  return () => fetch.mock.calls.map(([url, init]) => [url, JSON.parse(init.body)]);
}

describe("queueing a workflow", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    extensions.length = 0;
  });

  it("is one request when no extension has a beforeQueue hook", async () => {
    registerExtension({ name: "listener", onEvent() {} });
    const calls = stubFetch(json({ prompt_id: "p1", number: 3, node_errors: {}, node_count: 2 }));
    const queued = await submitWorkflow(workflow, "client", true);
    expect(calls()).toEqual([["/api/diffloom/queue", { workflow, client_id: "client", front: true }]]);
    expect(queued).toEqual({ result: { prompt_id: "p1", number: 3, node_errors: {}, node_count: 2 }, nodeCount: 2 });
  });

  it("converts, lets the hook change the prompt and posts it when an extension has beforeQueue", async () => {
    const seen: unknown[] = [];
    registerExtension({ name: "stamp", beforeQueue(wf, p) { seen.push(wf); p["9"] = { class_type: "Added", inputs: {} }; } });
    const calls = stubFetch(json(prompt), json({ prompt_id: "p2", number: 4, node_errors: {} }));
    const queued = await submitWorkflow(workflow, "client", false);
    const [[convertUrl, converted], [promptUrl, posted]] = calls();
    expect([convertUrl, converted]).toEqual(["/api/diffloom/convert", workflow]);
    expect(promptUrl).toBe("/api/prompt");
    expect(posted).toEqual({ prompt: { ...prompt, "9": { class_type: "Added", inputs: {} } }, client_id: "client",
                             front: false, extra_data: { extra_pnginfo: { workflow } } });
    expect(seen).toEqual([workflow]);
    expect(queued.nodeCount).toBe(3);
  });

  it("passes a rejected prompt's node_errors on to the caller", async () => {
    const refusal = { error: { type: "prompt_outputs_failed_validation", message: "Prompt outputs failed validation" },
                      node_errors: { "1": { errors: [{ type: "value_bigger_than_max" }] } } };
    stubFetch(json(refusal, 400));
    const failure = await submitWorkflow(workflow, null, false).catch((err) => err);
    expect(failure).toBeInstanceOf(ApiError);
    expect([failure.status, failure.body.node_errors]).toEqual([400, refusal.node_errors]);
  });
});
