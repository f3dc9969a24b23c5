/** A group box behind its nodes; dragging its title moves the nodes inside it. */
import type { NodeProps } from "@xyflow/react";
import { memo, useState } from "react";
import type { Group } from "../graph/types";
import { useGraphStore } from "../store/graphStore";

export type GroupData = { group: Group; index: number };

function GroupViewImpl({ data, selected }: NodeProps & { data: GroupData }) {
  const { group, index } = data;
  const [editing, setEditing] = useState(false);
  const edit = useGraphStore((s) => s.edit);
  const [, , w, h] = group.bounding;
  return (
    <div className={`dl-group ${selected ? "selected" : ""}`} style={{ width: w, height: h, "--group-color": group.color ?? "#3f789e" } as React.CSSProperties}>
      <div className="dl-group-title" style={{ fontSize: Math.min(group.font_size ?? 24, 28) }}
        onDoubleClick={() => setEditing(true)}>
        {editing ? (
          <input className="nodrag" autoFocus defaultValue={group.title}
            onKeyDown={(e) => { e.stopPropagation(); if (e.key === "Enter") (e.target as HTMLInputElement).blur(); }}
            onBlur={(e) => { setEditing(false); const t = e.target.value; edit((g) => { g.groups[index].title = t; }); }} />
        ) : group.title}
      </div>
    </div>
  );
}

export const GroupView = memo(GroupViewImpl);
