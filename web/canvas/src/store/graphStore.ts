/** The one store of the editor: node definitions, open tabs, each tab's graph with its undo history. */
import { produce, setAutoFreeze } from "immer";
import { create } from "zustand";
import { EditError } from "../graph/edits";
import { adaptGraph } from "../graph/refresh";
import type { Graph, ObjectInfo } from "../graph/types";
import { emptyGraph } from "../graph/workflow";
import { commit, commitFrom, createHistory, type History, redo, replace, undo } from "./history";

// React Flow annotates the objects it is given; frozen graphs would make that throw.
setAutoFreeze(false);

export interface Tab {
  id: string;
  name: string;
  history: History<Graph>;
  /** The graph as last saved or opened: the tab shows "•" while the graph differs. */
  saved?: Graph;
  /** A new empty tab: the next opened file takes its place while it is still untouched. */
  blank?: boolean;
  /** Fit the view to the graph when shown (freshly opened files), instead of restoring the saved viewport. */
  fit?: boolean;
  /** The graph when the current gesture (a drag) began; undo returns there. */
  gestureBase?: Graph;
}

export interface Notice {
  id: number;
  level: "info" | "error";
  text: string;
}

export interface GraphState {
  defs: ObjectInfo;
  tabs: Tab[];
  activeId: string;
  /** React Flow ids of the selected nodes ("12") and groups ("g1"). */
  selection: string[];
  notices: Notice[];
  setDefs(defs: ObjectInfo): void;
  /** New definitions for open graphs (a pack was reloaded): every tab's nodes are fitted to them, values kept. */
  updateDefs(defs: ObjectInfo): void;
  /** Applies one undoable edit to the active graph; returns false (with a notice) if the edit was refused. */
  edit(recipe: (draft: Graph) => void, mergeKey?: string): boolean;
  /** Changes the graph without an undo step until `endGesture`. */
  editTransient(recipe: (draft: Graph) => void): void;
  beginGesture(): void;
  endGesture(): void;
  undo(): void;
  redo(): void;
  openTab(name: string, graph: Graph): void;
  newBlankTab(): void;
  closeTab(id: string): void;
  activate(id: string): void;
  renameTab(id: string, name: string): void;
  select(ids: string[]): void;
  /** A notice; `sticky` ones stay until clicked (lists the user must act on). */
  notify(level: Notice["level"], text: string, sticky?: boolean): void;
  markSaved(): void;
  dismiss(id: number): void;
}

let counter = 0;
const newId = () => `tab-${Date.now().toString(36)}-${++counter}`;

function newTab(name: string, graph: Graph): Tab {
  return { id: newId(), name, history: createHistory(graph), saved: graph };
}

export function activeTab(state: Pick<GraphState, "tabs" | "activeId">): Tab {
  return state.tabs.find((t) => t.id === state.activeId) ?? state.tabs[0];
}

export function activeGraph(state: Pick<GraphState, "tabs" | "activeId">): Graph {
  return activeTab(state).history.present;
}

const first: Tab = { ...newTab("Unsaved Workflow", emptyGraph()), blank: true };

export const useGraphStore = create<GraphState>((set, get) => {
  const updateActive = (fn: (tab: Tab) => Tab) =>
    set((s) => ({ tabs: s.tabs.map((t) => (t.id === s.activeId ? fn(t) : t)) }));

  return {
    defs: {},
    tabs: [first],
    activeId: first.id,
    selection: [],
    notices: [],
    setDefs: (defs) => set({ defs }),
    updateDefs: (defs) => set((s) => ({
      defs,
      // Undo steps too: undoing after a reload must not bring back widget values in the old order.
      tabs: s.tabs.map((tab) => {
        const fit = (g: Graph) => adaptGraph(g, s.defs, defs);
        const h = tab.history;
        return { ...tab, history: { ...h, present: fit(h.present), past: h.past.map(fit), future: h.future.map(fit) } };
      }),
    })),
    edit(recipe, mergeKey) {
      try {
        updateActive((tab) => ({ ...tab, history: commit(tab.history, produce(tab.history.present, recipe), mergeKey) }));
        return true;
      } catch (err) {
        if (!(err instanceof EditError)) throw err;
        get().notify("error", err.message);
        return false;
      }
    },
    editTransient(recipe) {
      updateActive((tab) => ({ ...tab, history: replace(tab.history, produce(tab.history.present, recipe)) }));
    },
    beginGesture() {
      updateActive((tab) => ({ ...tab, gestureBase: tab.gestureBase ?? tab.history.present }));
    },
    endGesture() {
      updateActive((tab) => (tab.gestureBase ? { ...tab, history: commitFrom(tab.history, tab.gestureBase), gestureBase: undefined } : tab));
    },
    undo: () => updateActive((tab) => ({ ...tab, history: undo(tab.history) })),
    redo: () => updateActive((tab) => ({ ...tab, history: redo(tab.history) })),
    openTab(name, graph) {
      const tab = { ...newTab(name, graph), fit: true };
      set((s) => {
        // An untouched empty tab is replaced rather than kept beside the opened file.
        const current = activeTab(s);
        const blank = current?.blank && !current.history.past.length && !current.history.present.nodes.length;
        const tabs = blank ? s.tabs.map((t) => (t.id === current.id ? tab : t)) : [...s.tabs, tab];
        return { tabs, activeId: tab.id, selection: [] };
      });
    },
    newBlankTab() {
      const tab = { ...newTab("Unsaved Workflow", emptyGraph()), blank: true };
      set((s) => ({ tabs: [...s.tabs, tab], activeId: tab.id, selection: [] }));
    },
    closeTab(id) {
      set((s) => {
        const tabs = s.tabs.filter((t) => t.id !== id);
        if (!tabs.length) tabs.push({ ...newTab("Unsaved Workflow", emptyGraph()), blank: true });
        const activeId = tabs.some((t) => t.id === s.activeId) ? s.activeId : tabs[tabs.length - 1].id;
        return { tabs, activeId, selection: [] };
      });
    },
    activate: (id) => set({ activeId: id, selection: [] }),
    renameTab: (id, name) => set((s) => ({ tabs: s.tabs.map((t) => (t.id === id ? { ...t, name } : t)) })),
    select: (ids) => set({ selection: ids }),
    notify(level, text, sticky = false) {
      const notice = { id: ++counter, level, text };
      set((s) => ({ notices: [...s.notices.slice(-4), notice] }));
      if (!sticky) setTimeout(() => get().dismiss(notice.id), level === "error" ? 8000 : 4000);
    },
    markSaved: () => updateActive((tab) => ({ ...tab, saved: tab.history.present })),
    dismiss: (id) => set((s) => ({ notices: s.notices.filter((n) => n.id !== id) })),
  };
});
