// Canvas extension of the image_adjust pack: draws ADJUST_COLOR inputs (ImageTint's `color`) as a colour picker
// with a live preview strip of the tint applied to a grey ramp. Uses the hook API of docs/canvas.md.

const LUMA = [0.299, 0.587, 0.114];
const HEX = /^#[0-9a-fA-F]{6}$/;

function parseHex(hex) {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
}

// The same colourise rule as adjust.tint at strength 1: keep each pixel's luma, take the colour's hue.
function drawPreview(canvas, hex) {
  const ctx = canvas.getContext("2d");
  const color = parseHex(hex);
  const colorLuma = Math.max(color.reduce((sum, c, i) => sum + c * LUMA[i], 0), 1e-6);
  const image = ctx.createImageData(canvas.width, canvas.height);
  for (let x = 0; x < canvas.width; x++) {
    const grey = x / (canvas.width - 1);
    const rgb = color.map((c) => Math.min(1, (grey * c) / colorLuma) * 255);
    for (let y = 0; y < canvas.height; y++) {
      image.data.set([...rgb, 255], (y * canvas.width + x) * 4);
    }
  }
  ctx.putImageData(image, 0, 0);
}

function colorWidget(container, widget) {
  const initial = HEX.test(String(widget.value)) ? String(widget.value) : "#ffb066";
  container.innerHTML = "";
  container.style.display = "flex";
  container.style.alignItems = "center";
  container.style.gap = "6px";

  const picker = document.createElement("input");
  picker.type = "color";
  picker.value = initial;
  picker.title = `${widget.name}: the tint colour`;
  const label = document.createElement("code");
  label.textContent = initial;
  const preview = document.createElement("canvas");
  preview.width = 96;
  preview.height = 12;
  preview.title = "the tint at full strength on a grey ramp";
  drawPreview(preview, initial);

  const onInput = () => {
    label.textContent = picker.value;
    drawPreview(preview, picker.value);
    widget.setValue(picker.value);
  };
  picker.addEventListener("input", onInput);
  container.append(picker, label, preview);
  return () => picker.removeEventListener("input", onInput);
}

window.diffloom?.registerExtension({
  name: "image_adjust.color_widget",
  widgets: { ADJUST_COLOR: colorWidget },
});
