/** A node on the canvas: title, typed sockets, widgets, run state and images, generated from its definition. */
import { Handle, NodeResizeControl, type NodeProps, Position, ResizeControlVariant, useStore, useUpdateNodeInternals } from "@xyflow/react";
import { memo, useEffect, useRef, useState } from "react";
import { toggleCollapsed } from "../actions";
import { viewUrl } from "../api/client";
import { setWidgetValue } from "../graph/edits";
import { nodeKind } from "../graph/nodeKinds";
import { displayName } from "../graph/objectInfo";
import { typeColor } from "../graph/sockets";
import type { EditorNode } from "../graph/types";
import { activeGraph, useGraphStore } from "../store/graphStore";
import { useRunStore } from "../store/runStore";
import { WidgetView } from "../widgets/WidgetView";
import { nodeRows, primitiveTarget } from "./nodeRows";

export type NodeData = { node: EditorNode };

/** Below this zoom widgets are unreadable: nodes are drawn as a titled box of their saved size with their sockets. */
export const LOW_DETAIL_ZOOM = 0.5;
const LOW_ROW_TOP = 37;
const LOW_ROW = 22;

function Socket({ side, id, type, label, error }: { side: "in" | "out"; id: string; type: string; label: string; error?: string }) {
  return (
    <div className={`dl-socket dl-socket-${side} ${error ? "error" : ""}`} title={error ?? type}>
      <Handle type={side === "in" ? "target" : "source"} position={side === "in" ? Position.Left : Position.Right}
        id={id} className="dl-handle" style={{ background: typeColor(type) }} />
      <span>{label}</span>
    </div>
  );
}

function Title({ node, title }: { node: EditorNode; title: string }) {
  const [editing, setEditing] = useState(false);
  const edit = useGraphStore((s) => s.edit);
  const toggleCollapse = () => toggleCollapsed([node.id]);
  return (
    <div className="dl-title" onDoubleClick={(e) => { e.stopPropagation(); setEditing(true); }}>
      <button className="dl-collapse nodrag" onClick={toggleCollapse} title="collapse">{node.flags.collapsed ? "▸" : "▾"}</button>
      {editing ? (
        <input className="nodrag" autoFocus defaultValue={title}
          onKeyDown={(e) => { e.stopPropagation(); if (e.key === "Enter") (e.target as HTMLInputElement).blur(); }}
          onBlur={(e) => {
            setEditing(false);
            const value = e.target.value.trim();
            if (value && value !== title) edit((g) => { g.nodes.find((x) => x.id === node.id)!.title = value; });
          }} />
      ) : <span className="dl-title-text">{title}</span>}
      <span className="dl-node-id">#{node.id}</span>
    </div>
  );
}

/** The right edge of a selected node drags its width (one undo step per drag). */
function WidthHandle({ nodeId }: { nodeId: number }) {
  const { beginGesture, editTransient, endGesture } = useGraphStore.getState();
  return (
    <NodeResizeControl variant={ResizeControlVariant.Line} position="right" resizeDirection="horizontal" minWidth={180}
      onResizeStart={beginGesture} onResizeEnd={endGesture}
      onResize={(_, { width }) => editTransient((g) => {
        const n = g.nodes.find((x) => x.id === nodeId);
        if (n) n.size = [width, n.size[1]];
      })} />
  );
}

function NodeImages({ id }: { id: string }) {
  const images = useRunStore((s) => s.outputs[id]);
  // The last preview stays on a sampler after its run, until the next prompt starts.
  const preview = useRunStore((s) => s.previews[id]);
  if (!images?.length) return preview ? <img className="dl-node-image preview" src={preview} alt="preview" /> : null;
  return (
    <div className="dl-node-images">
      {images.map((img) => (
        <a key={img.filename + img.subfolder} href={viewUrl(img)} target="_blank" rel="noreferrer" className="nodrag">
          <img className="dl-node-image" src={viewUrl(img)} alt={img.filename} />
        </a>
      ))}
    </div>
  );
}

function NodeViewImpl({ data, selected }: NodeProps & { data: NodeData }) {
  const node = data.node;
  const id = String(node.id);
  const defs = useGraphStore((s) => s.defs);
  const edit = useGraphStore((s) => s.edit);
  // Run state belongs to the tab that was queued; on other tabs the same node ids are other nodes.
  const ownTab = useRunStore((s) => s.tabId) === useGraphStore((s) => s.activeId);
  const runId = ownTab ? id : "";
  const running = useRunStore((s) => s.running === runId || s.active.includes(runId));
  const cached = useRunStore((s) => s.cached.includes(runId));
  const progress = useRunStore((s) => (s.running === runId || s.active.includes(runId) ? s.progress[runId] : undefined));
  const error = useRunStore((s) => s.errors[runId]);
  const updateInternals = useUpdateNodeInternals();
  // Zoomed far out, a simplified box (see LOW_DETAIL_ZOOM): far fewer elements keeps 300-node graphs smooth.
  const lowDetail = useStore((s) => s.transform[2] < LOW_DETAIL_ZOOM);
  const primitive = useGraphStore((s) => (node.type === "PrimitiveNode" ? primitiveTarget(activeGraph(s), node) : ""));
  const rows = nodeRows(node, defs, primitive);
  const kind = nodeKind(defs, node.type);
  const title = node.title ?? (kind.kind === "missing" ? node.type : displayName(kind.def, node.type));
  // Widget sockets are left out when zoomed far out (fewer handles to measure); any change re-measures handles.
  const socketKey = node.inputs.map((i) => `${i.name}:${i.link}`).join(",") + (node.flags.collapsed ? "c" : "") +
    (lowDetail ? "low" : "");
  // React Flow measures handles on mount; only later socket changes (a widget turned input) need a re-measure.
  const mountedKey = useRef(socketKey);
  useEffect(() => {
    if (mountedKey.current !== socketKey) updateInternals(id);
    mountedKey.current = socketKey;
  }, [socketKey, id, updateInternals]);

  const saved = node.widgets_values;
  // Positional as ComfyUI writes them, or by widget name as a few custom nodes do.
  const valueAt = (index: number, name: string) => (Array.isArray(saved) ? saved[index] : saved?.[name]);
  const setValue = (index: number) => (value: unknown) =>
    edit((g) => setWidgetValue(g, defs, node.id, index, value), `widget:${node.id}:${index}`);
  const classes = ["dl-node", selected && "selected", running && "running", cached && "cached", error && "error",
    node.mode === 4 && "bypassed", node.mode === 2 && "muted", rows.kind === "missing" && "missing",
    node.flags.collapsed && "collapsed", lowDetail && "low"].filter(Boolean).join(" ");
  const style = { width: node.flags.collapsed ? undefined : Math.max(node.size[0], 180),
                  "--node-color": node.color, "--node-bg": node.bgcolor } as React.CSSProperties;

  if (node.type === "Reroute")
    return (
      <div className={`${classes} dl-reroute`} data-node-id={id} data-node-type={node.type}>
        <Handle type="target" position={Position.Left} id="i:" className="dl-handle" style={{ background: typeColor(node.inputs[0]?.type ?? "*") }} />
        <Handle type="source" position={Position.Right} id="o:0" className="dl-handle" style={{ background: typeColor(node.outputs[0]?.type ?? "*") }} />
      </div>
    );

  if (lowDetail && !node.flags.collapsed)
    return (
      <div className={classes} style={{ ...style, height: node.size[1] }} data-node-id={id} data-node-type={node.type}>
        <div className="dl-title"><span className="dl-title-text">{title}</span></div>
        {rows.sockets.map((s, i) => <Handle key={s.name} type="target" position={Position.Left} id={`i:${s.name}`}
          className="dl-handle" style={{ top: LOW_ROW_TOP + i * LOW_ROW, background: typeColor(s.type) }} />)}
        {rows.outputs.map((o, i) => <Handle key={i} type="source" position={Position.Right} id={`o:${i}`}
          className="dl-handle" style={{ top: LOW_ROW_TOP + i * LOW_ROW, background: typeColor(o.type) }} />)}
      </div>
    );

  if (node.flags.collapsed)
    return (
      <div className={classes} style={style} data-node-id={id}>
        {rows.sockets.map((s) => <Handle key={s.name} type="target" position={Position.Left} id={`i:${s.name}`} className="dl-handle hidden" />)}
        <Title node={node} title={title} />
        {rows.outputs.map((_, i) => <Handle key={i} type="source" position={Position.Right} id={`o:${i}`} className="dl-handle hidden" />)}
      </div>
    );

  return (
    <div className={classes} style={style} data-node-id={id} data-node-type={node.type}>
      {selected && <WidthHandle nodeId={node.id} />}
      <Title node={node} title={title} />
      {cached && <span className="dl-badge">cached</span>}
      {progress && <div className="dl-progress"><div style={{ width: `${(100 * progress[0]) / Math.max(progress[1], 1)}%` }} /></div>}
      {rows.kind === "missing" && <div className="dl-missing-note">Node type “{node.type}” is not on the server; its data is kept.</div>}
      <div className="dl-slots">
        <div className="dl-inputs">
          {rows.sockets.map((s) => <Socket key={s.name} side="in" id={`i:${s.name}`} type={s.type} label={s.label} error={error?.inputs[s.name]} />)}
        </div>
        <div className="dl-outputs">
          {rows.outputs.map((o, i) => <Socket key={i} side="out" id={`o:${i}`} type={o.type} label={o.label} />)}
        </div>
      </div>
      <div className="dl-widgets">
        {rows.widgets.map(({ spec, index }) => (
          <div key={`${spec.name}:${index}`} className={`dl-widget-row ${error?.inputs[spec.name] ? "error" : ""}`}
            title={error?.inputs[spec.name]} data-input={spec.name}>
            {spec.serialize && rows.kind === "server" && <Handle type="target" position={Position.Left} id={`i:${spec.name}`} className="dl-handle dl-widget-handle"
              style={{ background: typeColor(spec.type) }} />}
            <WidgetView spec={spec} value={valueAt(index, spec.name) ?? spec.defaultValue} onChange={setValue(index)} nodeId={node.id}
              target={spec.kind === "upload" ? { value: valueAt(index - 1, String(spec.options.target)), onChange: setValue(index - 1) } : undefined} />
          </div>
        ))}
        {rows.kind === "missing" && Object.entries(saved ?? {}).map(([k, v]) => <div key={k} className="dl-raw-value">{JSON.stringify(v)}</div>)}
      </div>
      <NodeImages id={runId} />
      {error?.message && <div className="dl-error-text">{error.message}</div>}
    </div>
  );
}

export const NodeView = memo(NodeViewImpl);
