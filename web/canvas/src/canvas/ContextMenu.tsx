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

function MenuList({ items, onDone }: { items: MenuItem[]; onDone(): void }) {
  const [open, setOpen] = useState<number | null>(null);
  return (
    <ul className="dl-menu">
      {items.map((item, i) => (
        <li key={`${item.label}-${i}`} className={`${item.children ? "submenu" : ""} ${item.disabled ? "disabled" : ""}`}
          onMouseEnter={() => setOpen(i)}
          onMouseDown={(e) => {
            e.stopPropagation();
            if (item.disabled) return;
            if (item.children) return setOpen(i);
            item.run?.();
            onDone();
          }}>
          {item.label}{item.children && <span className="dl-menu-arrow">▸</span>}
          {item.children && open === i && <MenuList items={item.children} onDone={onDone} />}
        </li>
      ))}
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
