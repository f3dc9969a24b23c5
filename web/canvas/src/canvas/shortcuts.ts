/** Canvas keyboard shortcuts (window-wide, ignored while typing in a field). */
import { useEffect } from "react";
import * as actions from "../actions";
import { MODE_BYPASS, MODE_NEVER } from "../graph/types";
import { activeGraph, useGraphStore } from "../store/graphStore";

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
}

export interface ShortcutContext {
  /** The flow position under the mouse (where Ctrl+V pastes). */
  mouseAt(): { x: number; y: number };
  deleteSelectedLinks(): void;
  groupSelection(): void;
  fit(): void;
}

export function useCanvasShortcuts(ctx: ShortcutContext, deps: unknown[]): void {
  useEffect(() => {
    const store = useGraphStore.getState;
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e.target)) return;
      const ctrl = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      const run = (fn: () => void) => { e.preventDefault(); fn(); };
      if (ctrl && key === "z" && !e.shiftKey) run(() => store().undo());
      else if (ctrl && (key === "y" || (key === "z" && e.shiftKey))) run(() => store().redo());
      else if (ctrl && key === "c") run(actions.copySelection);
      else if (ctrl && key === "v") run(() => { const at = ctx.mouseAt(); actions.paste([at.x, at.y], e.shiftKey); });
      else if (ctrl && key === "b") run(() => actions.toggleSelectionMode(MODE_BYPASS));
      else if (ctrl && key === "m") run(() => actions.toggleSelectionMode(MODE_NEVER));
      else if (ctrl && key === "g") run(ctx.groupSelection);
      else if (ctrl && key === "a") run(() => store().select(activeGraph(store()).nodes.map((n) => String(n.id))));
      else if (!ctrl && (key === "delete" || key === "backspace")) run(() => { ctx.deleteSelectedLinks(); actions.deleteSelection(); });
      else if (!ctrl && !e.altKey && key === ".") run(ctx.fit);
      else if (!ctrl && e.altKey && key === "c") run(() => actions.toggleCollapsed(actions.selectedNodeIds()));
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, deps);
}
