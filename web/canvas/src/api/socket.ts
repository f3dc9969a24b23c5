/** The WebSocket to `/ws`: text messages feed the run store, preview frames become node previews. */
import { useGraphStore } from "../store/graphStore";
import { useRunStore, type WsMessage } from "../store/runStore";
import { emitEvent } from "../extensions";
import { decodeFrame } from "./frames";

const CLIENT_KEY = "diffloom.clientId";

/** One server message into the canvas: the run store, a notice for a failed run, and the extensions' listeners.
 * The socket delivers them live; `historyPoll` replays them when there is no socket. */
export function deliver(msg: WsMessage): void {
  useRunStore.getState().receive(msg);
  if (msg.type === "execution_error")
    useGraphStore.getState().notify("error", `${msg.data.node_type ?? "Run"} failed: ${msg.data.exception_type}: ${msg.data.exception_message}`);
  emitEvent(msg.type, msg.data);
}

export function connectSocket(): void {
  let delay = 500;
  const open = () => {
    const clientId = sessionStorage.getItem(CLIENT_KEY) ?? crypto.randomUUID().replace(/-/g, "");
    sessionStorage.setItem(CLIENT_KEY, clientId);
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws?clientId=${clientId}`);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      delay = 500;
      useRunStore.getState().setConnected(true, clientId);
      ws.send(JSON.stringify({ type: "feature_flags", data: { supports_preview_metadata: true } }));
    };
    ws.onmessage = (event) => {
      const run = useRunStore.getState();
      if (typeof event.data !== "string") {
        const frame = decodeFrame(event.data as ArrayBuffer);
        const node = frame?.kind === "preview" ? frame.nodeId ?? run.running : null;
        if (frame?.kind === "preview" && node)
          run.setPreview(node, URL.createObjectURL(new Blob([frame.image as BlobPart], { type: frame.mime })));
        return;
      }
      const msg = JSON.parse(event.data);
      if (msg.type === "status" && msg.data?.sid) sessionStorage.setItem(CLIENT_KEY, msg.data.sid);
      deliver(msg);
    };
    ws.onclose = () => {
      useRunStore.getState().setConnected(false);
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 10000);
    };
  };
  open();
}
