// The canvas side of diffloom's plugin system, loaded like a pack's WEB_DIRECTORY script (docs/plugins.md):
// a notice for every custom node pack that failed to import, and a "Reload custom nodes: <pack>" command per pack.

const STATUS_URL = "/api/diffloom/custom_nodes";
let app = null;

async function readJson(response) {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return { error: { message: text.slice(0, 200) } };
  }
}

function describeFailure(pack) {
  return `Custom node pack "${pack.name}" failed to import: ${pack.error}` +
    (pack.error_location ? ` (${pack.error_location})` : "");
}

async function reloadPack(name) {
  const response = await fetch(`/api/diffloom/custom_nodes/${encodeURIComponent(name)}/reload`, { method: "POST" });
  const report = await readJson(response);
  if (!response.ok) {
    app.notify(`Reloading "${name}" was refused: ${report?.error?.details || report?.error?.message || response.status}`,
      "error");
  } else if (report.status === "failed") {
    app.notify(describeFailure(report), "error");
  } else {
    const refresh = typeof app.refreshDefinitions === "function" ? "" : " Reload the page to see changed node inputs.";
    app.notify(`Reloaded "${name}": ${report.nodes.length} node(s).${refresh}`);
  }
}

window.diffloom?.registerExtension({
  name: "diffloom.custom_nodes",
  async setup(canvasApp) {
    app = canvasApp;
    const response = await fetch(STATUS_URL);
    if (!response.ok) return;
    const status = await readJson(response);
    for (const pack of status.packs) if (pack.status === "failed") app.notify(describeFailure(pack), "error");
    if (!status.enabled) return;
    const reloadable = status.packs.filter((pack) => pack.status !== "disabled" && !pack.path.endsWith(".disabled"));
    app.registerExtension({
      name: "diffloom.custom_nodes.reload",
      commands: reloadable.map((pack) => ({ label: `Reload custom nodes: ${pack.name}`, run: () => reloadPack(pack.name) })),
    });
  },
  onEvent(type) {
    // another tab (or a script) reloaded a pack: let this canvas pick up the new definitions when it can
    if (type === "diffloom.custom_nodes" && app && typeof app.refreshDefinitions === "function") {
      app.refreshDefinitions();
    }
  },
});
