"""Judge a picture of the shapes domain without a neural network: colours, shape type, position and mask."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tools.toymodel.domain import BACKGROUND_COLOURS, SHAPE_COLOURS, ShapeSpec, position_of, stripe_period

ALPHA_FLOOR = 0.15  # coverage below this is background noise, not shape
# Shape type from three scale-free features (typical clean values in brackets):
TRIANGLE_MAX_TOP_SHARE = 0.41  # share of the area above the centre line [triangle 0.28, the others 0.5]
STAR_MAX_SOLIDITY = 0.8  # area / convex hull [star 0.5-0.7, the convex shapes 0.85-1.0 even when pixelated]
STAR_MAX_CORNER_FILL = 0.27  # coverage in the bounding box's corners [star 0.1, circle 0.33, square 0.9]
SQUARE_MIN_CORNER_FILL = 0.55
STRIPED_MIN_GAP_FRACTION = 0.1  # share of the silhouette that is background between bars
HUGE_MIN_EXTENT = 0.65  # bounding-box side / picture side [base domain at most 0.55, huge at least 0.75]


@dataclass
class Judgement:
    """What the evaluator sees in one picture; `shape` and `position` are None when no shape is found."""

    colour: str
    background: str
    shape: str | None
    position: str | None
    striped: bool
    mask: np.ndarray  # [H, W] bool, the filled silhouette
    features: dict = field(default_factory=dict)

    @property
    def huge(self) -> bool:
        return self.features.get("extent", 0.0) >= HUGE_MIN_EXTENT

    def matches(self, spec: ShapeSpec) -> dict[str, bool]:
        """Attribute -> whether this judgement agrees with `spec` (position only when the caption names one)."""
        result = {
            "colour": self.colour == spec.colour,
            "background": self.background == spec.background,
            "shape": self.shape == spec.shape,
            "striped": self.striped == spec.striped,
            "huge": self.huge == spec.huge,
        }
        if spec.position:
            result["position"] = self.position == spec.position
        return result


def to_array(image) -> np.ndarray:
    """An [H, W, 3] float32 array in 0..255 from a PIL image, a uint8 array or a float array in 0..1."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] < 3:
        raise ValueError(f"evaluate: expected an RGB image [H, W, 3], got shape {array.shape}")
    array = array[..., :3]
    if np.issubdtype(array.dtype, np.floating):
        return np.clip(array.astype(np.float32), 0, 1) * 255
    return array.astype(np.float32)


def judge(image) -> Judgement:
    """Read background, shape colour, silhouette, shape type, stripes and position from one picture."""
    pixels = to_array(image)
    background, bg_rgb = _background(pixels)
    colour, alpha = _shape_colour(pixels, background, bg_rgb)
    paint = _shape_region(alpha >= 0.5)
    mask, gap_fraction = _fill_stripe_gaps(paint)
    striped = gap_fraction >= STRIPED_MIN_GAP_FRACTION
    coverage = np.where(mask & ~paint, 1.0, np.where(alpha >= ALPHA_FLOOR, alpha, 0.0)) * _dilate(mask)
    features = _geometry(coverage, mask)
    if not features:
        return Judgement(colour, background, None, None, striped, mask, features)
    features["gap_fraction"] = gap_fraction
    shape, position = _shape_type(features), position_of(features["center"])
    return Judgement(colour, background, shape, position, striped, mask, features)


def _nearest(pixels: np.ndarray, palette: dict[str, tuple[int, int, int]]) -> tuple[list[str], np.ndarray]:
    names = list(palette)
    rgb = np.asarray([palette[n] for n in names], dtype=np.float32)
    distance = np.linalg.norm(pixels[..., None, :] - rgb, axis=-1)
    return names, distance.argmin(axis=-1)


def _background(pixels: np.ndarray) -> tuple[str, np.ndarray]:
    """The background is the palette colour most of the 1-pixel border is closest to; measured as their median."""
    border = np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])
    names, nearest = _nearest(border, BACKGROUND_COLOURS)
    winner = np.bincount(nearest, minlength=len(names)).argmax()
    return names[winner], np.median(border[nearest == winner], axis=0)


def _project(pixels: np.ndarray, bg: np.ndarray, fg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel as bg + t (fg - bg): returns t clipped to 0..1 and the distance left unexplained."""
    direction = fg - bg
    t = np.clip(((pixels - bg) @ direction) / max(float(direction @ direction), 1e-6), 0, 1)
    residual = np.linalg.norm(pixels - bg - t[..., None] * direction, axis=-1)
    return t, residual


def _shape_colour(pixels: np.ndarray, background: str, bg: np.ndarray) -> tuple[str, np.ndarray]:
    """Explain every pixel as a blend of the background and one palette colour; the colour covering most area wins.

    Returns the colour and the shape's coverage (alpha) against the colour as actually painted."""
    names = [n for n in SHAPE_COLOURS if n != background]
    fits = [_project(pixels, bg, np.asarray(SHAPE_COLOURS[n], dtype=np.float32)) for n in names]
    t = np.stack([f[0] for f in fits])
    best = np.stack([f[1] for f in fits]).argmin(axis=0)
    coverage = np.take_along_axis(t, best[None], axis=0)[0]
    votes = np.bincount(best.ravel(), weights=(coverage * (coverage >= 0.5)).ravel(), minlength=len(names))
    colour = names[int(votes.argmax())]
    alpha, _ = _project(pixels, bg, np.asarray(SHAPE_COLOURS[colour], dtype=np.float32))
    solid = alpha >= 0.8
    if solid.any():  # re-measure against the colour as painted, so shading drift does not shrink the mask
        alpha, _ = _project(pixels, bg, np.median(pixels[solid], axis=0))
    return colour, alpha


def _neighbour_min(labels: np.ndarray) -> np.ndarray:
    padded = np.pad(labels, 1, constant_values=np.iinfo(labels.dtype).max)
    return np.minimum.reduce([labels, padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]])


def _shape_region(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected region of `mask` plus the regions within its columns (a striped shape's other bars);
    stray specks elsewhere in a generated picture are ignored."""
    if not mask.any():
        return mask
    big = np.iinfo(np.int32).max
    labels = np.where(mask, np.arange(mask.size, dtype=np.int32).reshape(mask.shape), big)
    while True:
        spread = np.where(mask, _neighbour_min(labels), big)
        if np.array_equal(spread, labels):
            break
        labels = spread
    values, counts = np.unique(labels[mask], return_counts=True)
    # Stripes are separate bars: keep every component that lines up with the largest one's columns.
    main = labels == values[counts.argmax()]
    columns = main.any(axis=0)
    keep = [v for v in values if (labels == v)[:, columns].any() and (labels == v)[:, ~columns].sum() <= 1]
    return np.isin(labels, keep) & mask


def _fill_stripe_gaps(paint: np.ndarray) -> tuple[np.ndarray, float]:
    """Fill the empty rows between painted rows (the gaps between bars) where the bars above and below overlap.

    Returns the filled silhouette and the share of it that was gap."""
    painted_rows = np.flatnonzero(paint.any(axis=1))
    longest_gap = stripe_period(paint.shape[0]) // 3 + 1  # one row more than drawn, for blurred bars
    filled = paint.copy()
    for upper, lower in zip(painted_rows, painted_rows[1:]):
        if 1 < lower - upper <= longest_gap + 1:
            filled[upper + 1 : lower] = paint[upper] & paint[lower]
    area = filled.sum()
    return filled, float((filled & ~paint).sum() / area) if area else 0.0


def _dilate(mask: np.ndarray) -> np.ndarray:
    """The mask grown by one pixel: anti-aliased edge pixels just outside it still count toward area."""
    padded = np.pad(mask, 1)
    return padded[1:-1, 1:-1] | padded[:-2, 1:-1] | padded[2:, 1:-1] | padded[1:-1, :-2] | padded[1:-1, 2:]


def _geometry(coverage: np.ndarray, mask: np.ndarray) -> dict:
    """Fill ratio, solidity, top share, corner fill and centre of the silhouette (empty dict when there is none)."""
    if mask.sum() < 3:
        return {}
    h, w = coverage.shape
    across, down = coverage.max(axis=0), coverage.max(axis=1)  # per column / row: how far the shape reaches
    width, height = float(across.sum()), float(down.sum())
    area = float(coverage.sum())
    cx = float((np.arange(w) + 0.5) @ across / across.sum())
    cy = float((np.arange(h) + 0.5) @ down / down.sum())
    return {
        "area": area / coverage.size,
        "extent": max(width / w, height / h),
        "fill": area / (max(width, height) ** 2),
        "solidity": float(mask.sum()) / _hull_area(mask),
        "top_share": _mass_above(coverage, cy) / area,
        "corner_fill": _corner_fill(coverage, cx, cy, width, height),
        "center": (cx / w, cy / h),
    }


def _mass_above(coverage: np.ndarray, y: float) -> float:
    """Coverage above the horizontal line at `y` (pixels), splitting the row it crosses."""
    whole = int(np.floor(y))
    return float(coverage[:whole].sum() + (y - whole) * coverage[whole].sum()) if whole < coverage.shape[0] else 0.0


def _corner_fill(coverage: np.ndarray, cx: float, cy: float, width: float, height: float) -> float:
    """Mean coverage in the four corners (a quarter of each side) of the bounding box: a square fills them."""
    grid = (np.arange(4) + 0.5) / 4 * 0.25  # 4 points across each corner box, as fractions of the side
    offsets = np.concatenate([grid - 0.5, 0.5 - grid])
    xs, ys = cx + offsets * width, cy + offsets * height
    return float(_bilinear(coverage, xs[None, :], ys[:, None]).reshape(2, 4, 2, 4).mean(axis=(1, 3)).mean())


def _bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`image` sampled at pixel-centre coordinates (x, y), clamped at the edges."""
    h, w = image.shape
    x, y = np.broadcast_arrays(np.clip(x - 0.5, 0, w - 1), np.clip(y - 0.5, 0, h - 1))
    x0, y0 = np.minimum(x.astype(int), w - 2), np.minimum(y.astype(int), h - 2)
    fx, fy = x - x0, y - y0
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _hull_area(mask: np.ndarray) -> float:
    """Area of the convex hull of the mask's pixel squares (Andrew's monotone chain)."""
    ys, xs = np.nonzero(mask)
    corners = np.unique(np.concatenate([np.stack([xs + dx, ys + dy], 1) for dx in (0, 1) for dy in (0, 1)]), axis=0)
    points = [tuple(p) for p in corners.tolist()]

    def half(seq):
        chain: list[tuple[int, int]] = []
        for p in seq:
            while len(chain) >= 2 and _cross(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        return chain[:-1]

    hull = half(points) + half(reversed(points))
    return 0.5 * abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(hull, hull[1:] + hull[:1])))


def _cross(o, a, b) -> int:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _shape_type(features: dict) -> str:
    """Triangles are bottom-heavy, stars concave with empty corners, squares fill their corners, circles do not."""
    if features["top_share"] < TRIANGLE_MAX_TOP_SHARE:
        return "triangle"
    if features["solidity"] < STAR_MAX_SOLIDITY and features["corner_fill"] < STAR_MAX_CORNER_FILL:
        return "star"
    return "square" if features["corner_fill"] >= SQUARE_MIN_CORNER_FILL else "circle"
