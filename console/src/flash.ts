// Flash messages shown at the top of every page.
import type { FlashbarProps } from "@cloudscape-design/components/flashbar";

type Item = FlashbarProps.MessageDefinition;
let items: Item[] = [];
const listeners = new Set<(i: Item[]) => void>();
let next = 0;

export function flash(type: "success" | "error" | "info" | "warning", content: string) {
  const id = `f${next++}`;
  const item: Item = {
    id,
    type,
    content,
    dismissible: true,
    dismissLabel: "Dismiss",
    onDismiss: () => remove(id),
  };
  items = [item, ...items].slice(0, 5);
  listeners.forEach((l) => l(items));
}

function remove(id: string) {
  items = items.filter((i) => i.id !== id);
  listeners.forEach((l) => l(items));
}

export function onFlash(l: (i: Item[]) => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}
