/** Keeps the open tabs in localStorage so a reload brings them back. */
import { readWorkflow, writeWorkflow } from "../graph/workflow";
import { createHistory } from "./history";
import { type Tab, useGraphStore } from "./graphStore";

const KEY = "diffloom.tabs";

interface Saved {
  active: number;
  tabs: { name: string; workflow: unknown }[];
}

export function restoreTabs(storage: Storage = localStorage): boolean {
  const text = storage.getItem(KEY);
  if (!text) return false;
  try {
    const saved = JSON.parse(text) as Saved;
    const tabs: Tab[] = saved.tabs.map((t, i) => {
      const graph = readWorkflow(t.workflow);
      return { id: `tab-restored-${i}`, name: t.name, history: createHistory(graph), saved: graph,
               blank: !graph.nodes.length };
    });
    if (!tabs.length) return false;
    useGraphStore.setState({ tabs, activeId: tabs[Math.min(saved.active, tabs.length - 1)]?.id ?? tabs[0].id });
    return true;
  } catch (err) {
    console.warn("could not restore the open tabs", err);
    return false;
  }
}

export function persistTabs(storage: Storage = localStorage): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return useGraphStore.subscribe((state, prev) => {
    if (state.tabs === prev.tabs && state.activeId === prev.activeId) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      const saved: Saved = {
        active: state.tabs.findIndex((t) => t.id === state.activeId),
        tabs: state.tabs.map((t) => ({ name: t.name, workflow: writeWorkflow(t.history.present) })),
      };
      try {
        storage.setItem(KEY, JSON.stringify(saved));
      } catch (err) {
        console.warn("could not save the open tabs", err);
      }
    }, 300);
  });
}
