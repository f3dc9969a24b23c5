/** Boot (spec §1.12): node definitions, restored tabs, the WebSocket, then plugin extensions. */
import "@xyflow/react/dist/style.css";
import "./styles.css";
import { createRoot } from "react-dom/client";
import * as actions from "./actions";
import { api } from "./api/client";
import { connectSocket } from "./api/socket";
import { App } from "./App";
import { addListener, callHook, type DiffloomApp, loadExtensionScripts, registerExtension } from "./extensions";
import { addNode } from "./graph/edits";
import { useGraphStore } from "./store/graphStore";
import { persistTabs, restoreTabs } from "./store/persist";

let refreshing: Promise<void> | null = null;

/** Refetches `/object_info` and fits open graphs to it; calls while one is under way share it. */
function refreshDefinitions(): Promise<void> {
  refreshing ??= api.objectInfo()
    .then((defs) => useGraphStore.getState().updateDefs(defs))
    .catch((err) => useGraphStore.getState().notify("error", `Could not reload node definitions: ${(err as Error).message}`))
    .finally(() => { refreshing = null; });
  return refreshing;
}

const appApi: DiffloomApp = {
  registerExtension,
  getWorkflow: actions.currentWorkflow,
  loadWorkflow: (workflow, name = "workflow") => actions.openJson(workflow, name),
  queue: actions.queuePrompt,
  addNode(type, pos = [0, 0]) {
    let id: number | undefined;
    useGraphStore.getState().edit((g) => { id = addNode(g, useGraphStore.getState().defs, type, pos).id; });
    return id;
  },
  notify: (text, level = "info") => useGraphStore.getState().notify(level, text),
  on: addListener,
  refreshDefinitions,
};
window.diffloom = appApi;

async function boot() {
  const store = useGraphStore.getState();
  try {
    store.setDefs(await api.objectInfo());
  } catch (err) {
    store.notify("error", `Could not load node definitions: ${(err as Error).message}`);
  }
  const restored = restoreTabs();
  persistTabs();
  if (!restored) await actions.openFirstRunTemplate(); // kept like any tab: a reload shows the user's edits, not this
  createRoot(document.getElementById("root")!).render(<App />);
  try {
    await loadExtensionScripts(await api.extensions(), (text) => store.notify("error", text));
  } catch (err) {
    console.warn("no extensions", err);
  }
  await callHook("setup", appApi);
  // A node pack was reloaded on the server (by this tab or another): pick up its new definitions.
  addListener("diffloom.custom_nodes", () => void refreshDefinitions());
  // After the extensions, so their listeners hear the first messages too.
  connectSocket();
  // Extensions may have registered widget types: draw every node again with them.
  store.setDefs({ ...useGraphStore.getState().defs });
  document.body.dataset.ready = "true";
}

void boot();
