/** Without a WebSocket (a proxy or firewall that drops it) results still arrive: after queueing, the prompt's history
 * entry is polled until it appears, then replayed into the run store the way the socket would have delivered it. */
import { useRunStore, type WsMessage } from "../store/runStore";
import { api } from "./client";
import { deliver } from "./socket";

/** The messages a finished prompt's history entry stands for: its recorded events, then one `executed` per output. */
export function historyMessages(promptId: string, entry: any): WsMessage[] {
  const recorded: WsMessage[] = (entry?.status?.messages ?? []).map(([type, data]: [string, any]) => ({ type, data }));
  const executed: WsMessage[] = Object.entries(entry?.outputs ?? {}).map(([node, output]) => (
    { type: "executed", data: { node, display_node: node, output, prompt_id: promptId } }));
  const end = recorded.findIndex((m) => m.type === "execution_success");
  // the outputs belong before the final success message, as they arrive over the socket
  return end < 0 ? [...recorded, ...executed] : [...recorded.slice(0, end), ...executed, ...recorded.slice(end)];
}

/** Polls `/history/<id>` every `every` ms while the socket is down; gives up after `limitMs`. */
export async function pollHistory(promptId: string, every = 1000, limitMs = 30 * 60 * 1000): Promise<void> {
  const until = Date.now() + limitMs;
  while (Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, every));
    if (useRunStore.getState().connected) return; // the socket is back and carries the rest
    const entry = (await api.historyOf(promptId).catch(() => null))?.[promptId];
    if (!entry) continue;
    historyMessages(promptId, entry).forEach(deliver);
    return;
  }
}
