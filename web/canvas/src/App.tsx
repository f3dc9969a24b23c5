/** The editor shell: menu bar, tabs, canvas, side panels and notices. */
import { useEffect, useRef, useState } from "react";
import * as actions from "./actions";
import { api } from "./api/client";
import { Canvas } from "./canvas/Canvas";
import { Gallery } from "./panels/Gallery";
import { QueuePanel } from "./panels/QueuePanel";
import { Templates } from "./panels/Templates";
import { Workflows } from "./panels/Workflows";
import { type Tab, useGraphStore } from "./store/graphStore";
import { useRunStore } from "./store/runStore";

/** Unchanged since saved or opened, ignoring the viewport (which moves without an undo step). */
function sameGraph(tab: Tab): boolean {
  const { present } = tab.history;
  return !!tab.saved && present.nodes === tab.saved.nodes && present.links === tab.saved.links && present.groups === tab.saved.groups;
}

function Tabs() {
  const tabs = useGraphStore((s) => s.tabs);
  const activeId = useGraphStore((s) => s.activeId);
  const { activate, closeTab, newBlankTab, renameTab } = useGraphStore.getState();
  return (
    <div className="dl-tabs">
      {tabs.map((tab) => (
        <div key={tab.id} className={`dl-tab ${tab.id === activeId ? "active" : ""}`} onClick={() => activate(tab.id)}
          onDoubleClick={() => { const name = prompt("Rename workflow", tab.name); if (name) renameTab(tab.id, name); }}>
          {tab.name}{!sameGraph(tab) ? " •" : ""}
          <button className="dl-tab-close" onClick={(e) => {
            e.stopPropagation();
            if (sameGraph(tab) || !tab.history.present.nodes.length || confirm(`Close "${tab.name}" without saving its changes?`)) closeTab(tab.id);
          }}>×</button>
        </div>
      ))}
      <button className="dl-tab-new" title="new workflow" onClick={newBlankTab}>+</button>
    </div>
  );
}

function RunStatus() {
  const connected = useRunStore((s) => s.connected);
  const remaining = useRunStore((s) => s.queueRemaining);
  const running = useRunStore((s) => s.running);
  const done = useRunStore((s) => s.done.length);
  const total = useRunStore((s) => s.total);
  const pct = running && total ? Math.min(100, (100 * done) / total) : 0;
  return (
    <div className="dl-run-status">
      <span className={`dl-dot ${connected ? "on" : ""}`} title={connected ? "connected" : "disconnected"} />
      queue: {remaining}
      {running && <div className="dl-overall"><div style={{ width: `${pct}%` }} /></div>}
    </div>
  );
}

function InterruptButton() {
  const busy = useRunStore((s) => s.running !== null || s.queueRemaining > 0);
  if (!busy) return null;
  return <button onClick={() => void api.interrupt()} title="stop the running prompt">Interrupt</button>;
}

export function App() {
  const notices = useGraphStore((s) => s.notices);
  const dismiss = useGraphStore((s) => s.dismiss);
  const [panel, setPanel] = useState<"queue" | "gallery" | "templates" | "workflows" | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const toggle = (p: typeof panel) => setPanel(panel === p ? null : p);

  useEffect(() => {
    // Window-wide so they work wherever focus is, even inside a prompt's text box.
    const onKey = (e: KeyboardEvent) => {
      const ctrl = e.ctrlKey || e.metaKey;
      if (ctrl && e.key === "Enter") { e.preventDefault(); void actions.queuePrompt(e.shiftKey); }
      else if (ctrl && e.key.toLowerCase() === "s") { e.preventDefault(); actions.saveWorkflow(); }
      else if (ctrl && e.key.toLowerCase() === "o") { e.preventDefault(); fileInput.current?.click(); }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  return (
    <div className="dl-app">
      <header className="dl-menubar">
        <span className="dl-logo">diffloom</span>
        <button onClick={() => fileInput.current?.click()} title="Ctrl+O">Open</button>
        <button onClick={actions.saveWorkflow} title="Ctrl+S">Save</button>
        <button onClick={() => void actions.exportApi()}>Export API</button>
        <button onClick={() => toggle("workflows")} title="saved on the server">Workflows</button>
        <button onClick={() => toggle("templates")}>Templates</button>
        <input ref={fileInput} type="file" accept=".json,.png,application/json,image/png" hidden multiple
          onChange={(e) => { if (e.target.files) void actions.openFiles(e.target.files); e.target.value = ""; }} />
        <Tabs />
        <RunStatus />
        <button onClick={() => toggle("queue")}>Queue</button>
        <button onClick={() => toggle("gallery")}>Gallery</button>
        <InterruptButton />
        <button className="dl-queue-button" onClick={() => void actions.queuePrompt(false)} title="Ctrl+Enter (Ctrl+Shift+Enter: to the front)">Queue Prompt</button>
      </header>
      <main className="dl-main">
        <Canvas />
        {panel === "queue" && <QueuePanel />}
        {panel === "gallery" && <Gallery />}
        {panel === "templates" && <Templates />}
        {panel === "workflows" && <Workflows />}
      </main>
      <div className="dl-notices">
        {notices.map((n) => <div key={n.id} className={`dl-notice ${n.level}`} onClick={() => dismiss(n.id)}>{n.text}</div>)}
      </div>
    </div>
  );
}
