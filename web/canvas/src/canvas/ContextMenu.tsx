/** Right-click menus: the categorized add-node menu on the canvas, node actions on a node. */
import { useState } from "react";
import type { MenuTree } from "../graph/search";

export interface MenuItem {
  label: string;
  run?(): void;
  children?: MenuItem[];
  disabled?: boolean;
}

export function treeToItems(tree: MenuTree, add: (type: string) => void): MenuItem[] {
  return [
    ...tree.children.map((c) => ({ label: c.name, children: treeToItems(c, add) })),
    ...tree.types.map((t) => ({ label: t.title, run: () => add(t.type) })),
  ];
}

/** One menu level; a submenu opens beside its item in fixed position, so no scrolling parent clips it. */
function MenuList({ items, onDone, at }: { items: MenuItem[]; onDone(): void; at?: { x: number; y: number } }) {
  const [open, setOpen] = useState<{ index: number; x: number; y: number } | null>(null);
  const openAt = (index: number, el: HTMLElement) => {
    const rect = el.getBoundingClientRect();
    const rows = items[index].children?.length ?? 0;
    const height = Math.min(rows * 26 + 8, window.innerHeight * 0.8);
    setOpen({ index, x: rect.right - 2, y: Math.max(4, Math.min(rect.top - 4, window.innerHeight - height - 4)) });
  };
  const style = at ? ({ position: "fixed", left: at.x, top: at.y } as const) : undefined;
  return (
    <ul className="dl-menu" style={style}>
      {items.map((item, i) => (
        <li key={`${item.label}-${i}`} className={`${item.children ? "submenu" : ""} ${item.disabled ? "disabled" : ""} ${open?.index === i ? "open" : ""}`}
          onMouseEnter={(e) => (item.children ? openAt(i, e.currentTarget) : setOpen(null))}
          onMouseDown={(e) => {
            e.stopPropagation();
            if (item.disabled) return;
            if (item.children) return openAt(i, e.currentTarget);
            item.run?.();
            onDone();
          }}>
          {item.label}{item.children && <span className="dl-menu-arrow">▸</span>}
        </li>
      ))}
      {open && items[open.index]?.children && (
        <MenuList key={open.index} items={items[open.index].children!} onDone={onDone} at={{ x: open.x, y: open.y }} />
      )}
    </ul>
  );
}

export function ContextMenu({ x, y, items, onClose }: { x: number; y: number; items: MenuItem[]; onClose(): void }) {
  return (
    <div className="dl-context" style={{ left: x, top: y }} onContextMenu={(e) => e.preventDefault()}>
      <MenuList items={items} onDone={onClose} />
    </div>
  );
}
