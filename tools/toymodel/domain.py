"""The synthetic shapes domain: one coloured shape on a plain background, with its caption, mask and control image."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SHAPE_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (30, 70, 220),
    "yellow": (240, 220, 40),
    "purple": (140, 40, 180),
    "orange": (250, 140, 20),
    "white": (245, 245, 245),
}
BACKGROUND_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (10, 10, 10),
    "white": SHAPE_COLOURS["white"],
    "gray": (128, 128, 128),
    "blue": SHAPE_COLOURS["blue"],
    "green": SHAPE_COLOURS["green"],
    "red": SHAPE_COLOURS["red"],
    "yellow": SHAPE_COLOURS["yellow"],
}
BASE_SHAPES = ("circle", "square", "triangle")
# "star", striping and "huge" shapes are held back from the base model so that a LoRA has something new to teach.
# The shipped LoRA teaches "huge": the toy VAE, trained on the base domain only, cannot draw a star's points,
# stripes or new colours (a round trip through it turns them into base shapes and colours), but it draws a
# base shape at any size.
CONCEPT_SHAPES = ("star",)
HUGE_EXTENT = (0.75, 0.85)  # a huge shape's bounding-box side (the base domain's are 0.3-0.55)
HUGE_CENTER_JITTER = 0.03
ALL_SHAPES = BASE_SHAPES + CONCEPT_SHAPES

# Centre of each named region, as fractions of the image side (x, y).
POSITIONS: dict[str, tuple[float, float]] = {
    "top left": (0.25, 0.25),
    "top right": (0.75, 0.25),
    "bottom left": (0.25, 0.75),
    "bottom right": (0.75, 0.75),
    "center": (0.5, 0.5),
}
# A phrase-placed shape's centre lies this far from the image centre (per axis, fraction of the side):
# quadrants at least QUADRANT_MIN_OFFSET, the centre at most CENTER_MAX_OFFSET, leaving a dead zone between.
QUADRANT_MIN_OFFSET = 0.14
CENTER_MAX_OFFSET = 0.05
SUPERSAMPLE = 4  # anti-aliasing: coverage is measured on a 4x4 grid of points per pixel


@dataclass(frozen=True)
class DomainConfig:
    """What the generator may draw; the defaults are the base model's domain (no star, no stripes)."""

    size: int = 32
    shapes: tuple[str, ...] = BASE_SHAPES
    colours: tuple[str, ...] = tuple(SHAPE_COLOURS)
    backgrounds: tuple[str, ...] = tuple(BACKGROUND_COLOURS)
    min_extent: float = 0.3  # shape bounding-box side, fraction of the image side
    max_extent: float = 0.55
    position_prob: float = 0.5  # chance that the shape is placed by (and captioned with) a position phrase
    striped_prob: float = 0.0
    huge_prob: float = 0.0

    def __post_init__(self):
        _check_names("shape", self.shapes, ALL_SHAPES)
        _check_names("colour", self.colours, tuple(SHAPE_COLOURS))
        _check_names("background", self.backgrounds, tuple(BACKGROUND_COLOURS))
        if not 0 < self.min_extent <= self.max_extent <= 0.6:
            raise ValueError(f"DomainConfig: need 0 < min_extent <= max_extent <= 0.6, "
                             f"got {self.min_extent}, {self.max_extent}")
        if self.size < 16:
            raise ValueError(f"DomainConfig: size must be at least 16 pixels, got {self.size}")


def _check_names(kind: str, names: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise ValueError(f"DomainConfig: unknown or empty {kind} list {unknown or names}; "
                         f"allowed: {', '.join(allowed)}")


@dataclass(frozen=True)
class ShapeSpec:
    """One picture's content; `center` and `extent` are fractions of the image side."""

    shape: str
    colour: str
    background: str
    extent: float
    center: tuple[float, float]
    position: str | None = None  # the phrase in the caption, if any
    striped: bool = False
    huge: bool = False

    @property
    def caption(self) -> str:
        pattern = "striped " if self.striped else ""
        size = "huge " if self.huge else ""
        text = f"a {size}{self.colour} {pattern}{self.shape} on a {self.background} background"
        if self.position == "center":
            return text + " in the center"
        return text + (f" in the {self.position}" if self.position else "")


@dataclass
class Sample:
    """A rendered spec: RGB image, the shape's binary mask and the ControlNet control image (white on black)."""

    spec: ShapeSpec
    image: np.ndarray  # [H, W, 3] uint8
    mask: np.ndarray  # [H, W] bool, the filled silhouette (stripes included)
    control: np.ndarray  # [H, W, 3] uint8
    coverage: np.ndarray = field(repr=False)  # [H, W] float32 in 0..1, the anti-aliased silhouette

    @property
    def caption(self) -> str:
        return self.spec.caption


def position_of(center: tuple[float, float]) -> str:
    """The position phrase whose region holds a shape centred at `center` (fractions of the side)."""
    dx, dy = center[0] - 0.5, center[1] - 0.5
    if max(abs(dx), abs(dy)) < (QUADRANT_MIN_OFFSET + CENTER_MAX_OFFSET) / 2:
        return "center"
    return ("top" if dy < 0 else "bottom") + " " + ("left" if dx < 0 else "right")


def sample_spec(rng: np.random.Generator, config: DomainConfig = DomainConfig()) -> ShapeSpec:
    """Draw one random spec: the background is always a different colour name from the shape."""
    shape = config.shapes[rng.integers(len(config.shapes))]
    colour = config.colours[rng.integers(len(config.colours))]
    backgrounds = [b for b in config.backgrounds if b != colour]
    if not backgrounds:
        raise ValueError(f"DomainConfig: no background differs from shape colour {colour!r}")
    background = backgrounds[rng.integers(len(backgrounds))]
    extent = float(rng.uniform(config.min_extent, config.max_extent))
    half = extent / 2
    position = None
    if rng.random() < config.position_prob:
        position = list(POSITIONS)[rng.integers(len(POSITIONS))]
        center = tuple(_coordinate_in_region(rng, POSITIONS[position][axis], half) for axis in (0, 1))
    else:
        center = tuple(float(rng.uniform(half, 1 - half)) for _ in (0, 1))
    striped = bool(rng.random() < config.striped_prob)
    # drawn only when asked for, so the base domain's random streams (and the trained model's data) stay the same
    huge = bool(config.huge_prob > 0 and rng.random() < config.huge_prob)
    if huge:  # near the centre, no position phrase: a huge shape fills the picture
        extent = float(rng.uniform(*HUGE_EXTENT))
        center = tuple(float(0.5 + rng.uniform(-HUGE_CENTER_JITTER, HUGE_CENTER_JITTER)) for _ in (0, 1))
        position = None
    return ShapeSpec(shape, colour, background, extent, center, position, striped, huge)


def _coordinate_in_region(rng: np.random.Generator, region_center: float, half: float) -> float:
    """A coordinate inside the region around `region_center`, keeping the shape inside the image."""
    if region_center == 0.5:
        return float(rng.uniform(0.5 - CENTER_MAX_OFFSET, 0.5 + CENTER_MAX_OFFSET))
    # Quadrant: offset from the image centre between QUADRANT_MIN_OFFSET and the image edge minus the half extent.
    offset = rng.uniform(QUADRANT_MIN_OFFSET, max(QUADRANT_MIN_OFFSET, 0.5 - half))
    return float(0.5 - offset if region_center < 0.5 else 0.5 + offset)


def shape_coverage(shape: str, extent: float, center: tuple[float, float], size: int) -> np.ndarray:
    """Anti-aliased silhouette [size, size] in 0..1 of `shape` with bounding-box side `extent` at `center`."""
    n = size * SUPERSAMPLE
    points = (np.arange(n, dtype=np.float32) + 0.5) / n
    x = points[None, :] - center[0]
    y = points[:, None] - center[1]
    r = extent / 2
    if shape == "circle":
        inside = x * x + y * y <= r * r
    elif shape == "square":
        inside = (np.abs(x) <= r) & (np.abs(y) <= r)
    elif shape == "triangle":
        # Apex at the top centre, base along the bottom of the bounding box.
        inside = (y <= r) & (np.abs(x) <= (y + r) / 2)
    elif shape == "star":
        inside = _inside_polygon(x, y, _star_vertices(r))
    else:
        raise ValueError(f"shape_coverage: unknown shape {shape!r}; expected one of {', '.join(ALL_SHAPES)}")
    return inside.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(1, 3), dtype=np.float32)


def _star_vertices(r: float) -> np.ndarray:
    """Five-pointed star pointing up, scaled so its bounding box is 2r wide and centred on the origin."""
    angles = -np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, 1.0, 0.382)
    vertices = np.stack([np.cos(angles) * radii, np.sin(angles) * radii], axis=1)
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    scale = 2 * r / (hi - lo).max()
    return (vertices - (lo + hi) / 2) * scale


def _inside_polygon(x: np.ndarray, y: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon test on a broadcast grid of points."""
    x, y = np.broadcast_arrays(x, y)
    inside = np.zeros(x.shape, dtype=bool)
    for (x0, y0), (x1, y1) in zip(vertices, np.roll(vertices, -1, axis=0)):
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < x_at)
    return inside


def stripe_pattern(size: int) -> np.ndarray:
    """[size, 1] 1 on the shape's bars, 0 in the gaps: horizontal bars, period 6 px at 32, a third of it gap."""
    period = stripe_period(size)
    rows = np.arange(size)
    return ((rows % period) >= period // 3).astype(np.float32)[:, None]


def stripe_period(size: int) -> int:
    return max(6, round(size * 3 / 16))


def render(spec: ShapeSpec, size: int = 32) -> Sample:
    """Draw `spec` at `size`x`size`: shape over background, blended by anti-aliased coverage."""
    coverage = shape_coverage(spec.shape, spec.extent, spec.center, size)
    paint = coverage * stripe_pattern(size) if spec.striped else coverage
    background = np.asarray(BACKGROUND_COLOURS[spec.background], dtype=np.float32)
    colour = np.asarray(SHAPE_COLOURS[spec.colour], dtype=np.float32)
    image = background + paint[..., None] * (colour - background)
    control = np.repeat(np.rint(coverage * 255)[..., None], 3, axis=2)
    return Sample(
        spec=spec,
        image=np.rint(image).astype(np.uint8),
        mask=coverage >= 0.5,
        control=control.astype(np.uint8),
        coverage=coverage,
    )


def sample(seed: int, index: int, config: DomainConfig = DomainConfig()) -> Sample:
    """The `index`-th sample of the dataset named by `seed`: random access, same result on every machine."""
    rng = np.random.default_rng([seed, index])
    return render(sample_spec(rng, config), config.size)


def batch(seed: int, start: int, count: int, config: DomainConfig = DomainConfig()) -> list[Sample]:
    """Samples `start` .. `start + count - 1` of the dataset named by `seed`."""
    return [sample(seed, i, config) for i in range(start, start + count)]

