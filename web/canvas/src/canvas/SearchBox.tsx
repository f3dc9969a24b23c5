/** The node search popup: type to fuzzy-find a node type; Enter adds it. */
import { useMemo, useState } from "react";
import { type LinkFilter, type SearchHit, searchNodes } from "../graph/search";
import { useGraphStore } from "../store/graphStore";

export interface SearchRequest {
  screen: { x: number; y: number };
  flow: { x: number; y: number };
  filter?: LinkFilter;
  /** For a link dropped on the canvas: where the link came from. */
  from?: { nodeId: number; handle: string };
}

export function SearchBox({ request, onPick, onClose }: {
  request: SearchRequest; onPick(hit: SearchHit): void; onClose(): void;
}) {
  const defs = useGraphStore((s) => s.defs);
  const [query, setQuery] = useState("");
  const [cursor, setCursor] = useState(0);
  const hits = useMemo(() => searchNodes(defs, query, request.filter ?? {}), [defs, query, request.filter]);
  const filterLabel = request.filter?.fromOutput ?? request.filter?.fromInput;
  return (
    <div className="dl-search" style={{ left: request.screen.x, top: request.screen.y }} onMouseDown={(e) => e.stopPropagation()}>
      <input autoFocus placeholder={filterLabel ? `Search nodes taking ${filterLabel}…` : "Search nodes…"} value={query}
        className="dl-search-input"
        onChange={(e) => { setQuery(e.target.value); setCursor(0); }}
        onKeyDown={(e) => {
          e.stopPropagation();
          if (e.key === "Escape") onClose();
          if (e.key === "ArrowDown") { e.preventDefault(); setCursor(Math.min(cursor + 1, hits.length - 1)); }
          if (e.key === "ArrowUp") { e.preventDefault(); setCursor(Math.max(cursor - 1, 0)); }
          if (e.key === "Enter" && hits[cursor]) onPick(hits[cursor]);
        }} onBlur={() => setTimeout(onClose, 150)} />
      <ul className="dl-search-results">
        {hits.map((hit, i) => (
          <li key={hit.type} className={i === cursor ? "cursor" : ""} onMouseDown={(e) => { e.preventDefault(); onPick(hit); }}
            data-type={hit.type}>
            <span className="dl-hit-title">{hit.title}</span>
            <span className="dl-hit-category">{hit.category}</span>
          </li>
        ))}
        {!hits.length && <li className="empty">no matching node</li>}
      </ul>
    </div>
  );
}
