/** Socket types: their colours and which output may feed which input. */

const TYPE_COLORS: Record<string, string> = {
  MODEL: "#b39ddb", CLIP: "#ffd500", VAE: "#ff6e6e", CONDITIONING: "#ffa931", LATENT: "#ff9cf9",
  IMAGE: "#64b5f6", MASK: "#81c784", CONTROL_NET: "#00d78d", CLIP_VISION: "#a8dadc",
  CLIP_VISION_OUTPUT: "#ad7452", STYLE_MODEL: "#c2ffae", GLIGEN: "#00c8d0", UPSCALE_MODEL: "#b4a7d6",
  SAMPLER: "#ecb4b4", SIGMAS: "#cdffcd", NOISE: "#b0b0b0", GUIDER: "#66ffff",
  INT: "#7fd17f", FLOAT: "#aaee88", STRING: "#77ccaa", BOOLEAN: "#e07a7a", COMBO: "#aaaaff", "*": "#cccccc",
};

/** A stable colour per type; unknown types get a hue derived from their name. */
export function typeColor(type: string): string {
  if (TYPE_COLORS[type]) return TYPE_COLORS[type];
  let hash = 0;
  for (const ch of type) hash = (hash * 31 + ch.charCodeAt(0)) | 0;
  return `hsl(${Math.abs(hash) % 360}, 55%, 65%)`;
}

function typeSet(type: string): string[] {
  return type.split(",").map((t) => t.trim()).filter(Boolean);
}

/** The executor's rule (spec §6.8): equal, either side `*`, or comma-separated sets that intersect. */
export function typesCompatible(output: string, input: string): boolean {
  if (output === input || output === "*" || input === "*" || output === "" || input === "") return true;
  const outs = typeSet(output);
  const ins = typeSet(input);
  if (outs.includes("*") || ins.includes("*")) return true;
  return outs.some((t) => ins.includes(t));
}
