/** One widget row of a node, chosen by the widget kind its input spec gives (see graph/objectInfo.ts). */
import { useEffect, useRef, useState } from "react";
import { api, viewUrl } from "../api/client";
import { customWidget } from "../extensions";
import { useGraphStore } from "../store/graphStore";
import type { WidgetSpec } from "../graph/objectInfo";
import { filterOptions } from "./filter";
import { dragNumber, formatNumber, hexToInt, intToHex, normalizeNumber, type NumberOptions, stepNumber } from "./numbers";

export interface WidgetProps {
  spec: WidgetSpec;
  value: unknown;
  onChange(value: unknown): void;
  nodeId: number;
  /** For the upload widget: the value of the combo it uploads into, and how to set it. */
  target?: { value: unknown; onChange(value: unknown): void };
}

function NumberWidget({ spec, value, onChange }: WidgetProps) {
  const isInt = spec.kind === "int";
  const opts = spec.options as NumberOptions;
  const [editing, setEditing] = useState(false);
  const drag = useRef<{ x: number; start: number; moved: boolean } | null>(null);
  const current = Number(value);
  if (editing)
    return (
      <input className="dl-widget-input nodrag" autoFocus defaultValue={formatNumber(value, isInt)}
        onBlur={(e) => { setEditing(false); onChange(normalizeNumber(Number(e.target.value), opts, isInt)); }}
        onKeyDown={(e) => {
          if (e.key === "Enter") (e.target as HTMLInputElement).blur();
          if (e.key === "Escape") setEditing(false);
          e.stopPropagation();
        }} />
    );
  return (
    <div className="dl-number nodrag" data-widget={spec.name}>
      <button className="dl-arrow" onClick={() => onChange(stepNumber(current, -1, opts, isInt))}>◀</button>
      <div className="dl-number-body"
        onPointerDown={(e) => {
          (e.target as HTMLElement).setPointerCapture(e.pointerId);
          drag.current = { x: e.clientX, start: current, moved: false };
        }}
        onPointerMove={(e) => {
          if (!drag.current) return;
          const dx = e.clientX - drag.current.x;
          if (Math.abs(dx) > 3) drag.current.moved = true;
          if (drag.current.moved) onChange(dragNumber(drag.current.start, dx, opts, isInt));
        }}
        onPointerUp={() => {
          if (drag.current && !drag.current.moved) setEditing(true);
          drag.current = null;
        }}>
        <span className="dl-widget-name">{spec.name}</span>
        <span className="dl-widget-value">{formatNumber(value, isInt)}</span>
      </div>
      <button className="dl-arrow" onClick={() => onChange(stepNumber(current, 1, opts, isInt))}>▶</button>
    </div>
  );
}

function SliderWidget({ spec, value, onChange }: WidgetProps) {
  const opts = spec.options as NumberOptions;
  const isInt = spec.type === "INT";
  return (
    <label className="dl-slider nodrag">
      <span className="dl-widget-name">{spec.name}</span>
      <input type="range" min={opts.min ?? 0} max={opts.max ?? 1} step={opts.step ?? (isInt ? 1 : 0.01)}
        value={Number(value)} onChange={(e) => onChange(normalizeNumber(Number(e.target.value), opts, isInt))} />
      <span className="dl-widget-value">{formatNumber(value, isInt)}</span>
    </label>
  );
}

function ColorWidget({ spec, value, onChange }: WidgetProps) {
  return (
    <label className="dl-row-widget nodrag">
      <span className="dl-widget-name">{spec.name}</span>
      <input type="color" value={intToHex(Number(value))} onChange={(e) => onChange(hexToInt(e.target.value))} />
    </label>
  );
}

function TextWidget({ spec, value, onChange }: WidgetProps) {
  const stop = (e: React.KeyboardEvent) => e.stopPropagation();
  if (spec.kind === "text")
    return (
      <textarea className="dl-textarea nodrag nowheel" placeholder={spec.name} value={String(value ?? "")}
        onChange={(e) => onChange(e.target.value)} onKeyDown={stop} data-widget={spec.name} />
    );
  return (
    <label className="dl-row-widget nodrag">
      <span className="dl-widget-name">{spec.name}</span>
      <input className="dl-widget-input" value={String(value ?? "")} onChange={(e) => onChange(e.target.value)}
        onKeyDown={stop} data-widget={spec.name} />
    </label>
  );
}

function ToggleWidget({ spec, value, onChange }: WidgetProps) {
  const on = Boolean(value);
  const labels = spec.options as { label_on?: string; label_off?: string };
  return (
    <button className={`dl-toggle nodrag ${on ? "on" : ""}`} onClick={() => onChange(!on)} data-widget={spec.name}>
      <span className="dl-widget-name">{spec.name}</span>
      <span className="dl-widget-value">{on ? labels.label_on ?? "true" : labels.label_off ?? "false"}</span>
      <span className="dl-switch" />
    </button>
  );
}

export function ComboWidget({ spec, value, onChange }: WidgetProps) {
  const [open, setOpen] = useState(false);
  const [query, setQuery] = useState("");
  const [cursor, setCursor] = useState(0);
  const values = spec.values ?? [];
  const shown = filterOptions(values, query);
  const missing = typeof value === "string" && values.length > 0 && !values.includes(value);
  const pick = (v: string) => {
    onChange(v);
    setOpen(false);
    setQuery("");
  };
  return (
    <div className="dl-combo nodrag" data-widget={spec.name}>
      <button className={`dl-combo-button ${missing ? "missing" : ""}`} onClick={() => setOpen(!open)}
        title={missing ? `${String(value)} is not on the server` : String(value)}>
        <span className="dl-widget-name">{spec.name}</span>
        <span className="dl-widget-value">{String(value ?? "")}</span>▾
      </button>
      {open && (
        <div className="dl-combo-popup nowheel">
          <input autoFocus placeholder="filter…" value={query}
            onChange={(e) => { setQuery(e.target.value); setCursor(0); }}
            onKeyDown={(e) => {
              e.stopPropagation();
              if (e.key === "Escape") setOpen(false);
              if (e.key === "ArrowDown") setCursor(Math.min(cursor + 1, shown.length - 1));
              if (e.key === "ArrowUp") setCursor(Math.max(cursor - 1, 0));
              if (e.key === "Enter" && shown[cursor] !== undefined) pick(shown[cursor]);
            }} onBlur={() => setTimeout(() => setOpen(false), 150)} />
          <ul>
            {shown.map((v, i) => (
              <li key={v} className={`${v === value ? "current" : ""} ${i === cursor ? "cursor" : ""}`}
                onMouseDown={(e) => { e.preventDefault(); pick(v); }}>{v}</li>
            ))}
            {!shown.length && <li className="empty">no match</li>}
          </ul>
        </div>
      )}
    </div>
  );
}

function UploadWidget({ target }: WidgetProps) {
  const input = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const name = typeof target?.value === "string" ? target.value : "";
  return (
    <div className="dl-upload nodrag">
      <button onClick={() => input.current?.click()} disabled={busy}>{busy ? "uploading…" : "choose file to upload"}</button>
      <input ref={input} type="file" accept="image/*" hidden onChange={async (e) => {
        const file = e.target.files?.[0];
        if (!file || !target) return;
        setBusy(true);
        try {
          const result = await api.uploadImage(file);
          target.onChange(result.subfolder ? `${result.subfolder}/${result.name}` : result.name);
          // the file is now one of the combo's choices on the server
          useGraphStore.getState().setDefs(await api.objectInfo());
        } finally {
          setBusy(false);
        }
      }} />
      {name && <img className="dl-thumb" alt={name} src={viewUrl({ filename: name.split("/").pop()!,
        subfolder: name.includes("/") ? name.slice(0, name.lastIndexOf("/")) : "", type: "input" })} />}
    </div>
  );
}

function CustomWidget({ spec, value, onChange, nodeId }: WidgetProps) {
  const ref = useRef<HTMLDivElement>(null);
  const latest = useRef({ value, onChange });
  latest.current = { value, onChange };
  useEffect(() => {
    const draw = customWidget(spec.type);
    if (!draw || !ref.current) return;
    const cleanup = draw(ref.current, {
      nodeId, name: spec.name, get value() { return latest.current.value; },
      setValue: (v) => latest.current.onChange(v),
    });
    return typeof cleanup === "function" ? cleanup : undefined;
  }, [spec.type, spec.name, nodeId]);
  return <div ref={ref} className="dl-custom nodrag" />;
}

export function WidgetView(props: WidgetProps) {
  switch (props.spec.kind) {
    case "int":
    case "float":
      return <NumberWidget {...props} />;
    case "slider":
      return <SliderWidget {...props} />;
    case "color":
      return <ColorWidget {...props} />;
    case "string":
    case "text":
      return <TextWidget {...props} />;
    case "boolean":
      return <ToggleWidget {...props} />;
    case "combo":
    case "control":
      return <ComboWidget {...props} />;
    case "upload":
      return <UploadWidget {...props} />;
    case "custom":
      return <CustomWidget {...props} />;
  }
}
