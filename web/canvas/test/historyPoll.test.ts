import { describe, expect, it } from "vitest";
import { historyMessages } from "../src/api/historyPoll";
import { applyMessage, useRunStore } from "../src/store/runStore";

describe("history replay (no WebSocket)", () => {
  const entry = {
    outputs: { "9": { images: [{ filename: "a.png", subfolder: "", type: "output" }] } },
    status: { status_str: "success", completed: true,
              messages: [["execution_start", { prompt_id: "p" }], ["execution_cached", { nodes: ["4"], prompt_id: "p" }],
                         ["execution_success", { prompt_id: "p" }]] },
  };

  it("replays the recorded events with the outputs before the final success", () => {
    expect(historyMessages("p", entry).map((m) => m.type))
      .toEqual(["execution_start", "execution_cached", "executed", "execution_success"]);
  });

  it("puts the outputs on their nodes as the socket would", () => {
    const state = historyMessages("p", entry).reduce(applyMessage, useRunStore.getState());
    expect(state.outputs["9"][0].filename).toBe("a.png");
    expect(state.cached).toEqual(["4"]);
  });

  it("an errored prompt marks its node", () => {
    const failed = { outputs: {}, status: { status_str: "error", messages: [["execution_start", { prompt_id: "p" }],
      ["execution_error", { prompt_id: "p", node_id: "3", node_type: "KSampler", exception_type: "ValueError",
                            exception_message: "bad" }]] } };
    const state = historyMessages("p", failed).reduce(applyMessage, useRunStore.getState());
    expect(state.errors["3"].message).toBe("ValueError: bad");
  });
});
