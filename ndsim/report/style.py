"""Colours and labels shared by every figure.

Groups and product categories get hues of the Okabe & Ito palette, which
stays distinguishable under the common colour-vision deficiencies (Okabe, M.
& Ito, K. (2008), *Color Universal Design*, https://jfly.uni-koeln.de/color/);
the products of a category are lighter and darker shades of its hue, in
stacking order, so a stacked area reads group by group and no two
neighbouring layers share a shade.
"""

from __future__ import annotations


def to_rgb(colour: str) -> tuple[float, float, float]:
    """``"#RRGGBB"`` to an RGB triple in [0, 1]."""
    h = colour.lstrip("#")
    return tuple(int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))


def to_hex(rgb) -> str:
    """An RGB triple in [0, 1] to ``"#rrggbb"``."""
    return "#" + "".join(f"{round(min(max(c, 0.0), 1.0) * 255):02x}" for c in rgb)


#: Okabe-Ito hues
OKABE_ITO = {
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
    "black": "#000000",
    "grey": "#999999",
}
#: hue of each SPEC §1 group; other groups take the remaining hues in turn
GROUP_COLOURS = {
    "home appliances": OKABE_ITO["orange"],
    "general machinery": OKABE_ITO["bluish green"],
    "electronic devices": OKABE_ITO["blue"],
    "other": OKABE_ITO["reddish purple"],
    "all": OKABE_ITO["blue"],
}
_SPARE = [OKABE_ITO[k] for k in ("vermillion", "sky blue", "yellow", "grey")]
#: hue of each product category (SPEC §1) in stacked areas: products of one group but of
#: different categories (vehicles, wind turbines, MRI, non-magnet uses in "other") get
#: different hues, so every layer of a panel stays distinguishable
CATEGORY_COLOURS = {
    "home appliances": OKABE_ITO["orange"],
    "general machinery": OKABE_ITO["bluish green"],
    "electronic devices": OKABE_ITO["blue"],
    "vehicles": OKABE_ITO["vermillion"],
    "clean energy": OKABE_ITO["yellow"],
    "medical": OKABE_ITO["black"],
    "non-magnet": OKABE_ITO["reddish purple"],
}

#: supply scenario colours (S1, S2, S3, ...)
SCENARIO_COLOURS = [
    OKABE_ITO[k] for k in ("blue", "orange", "vermillion", "bluish green", "reddish purple")
]

#: labels of the `flow` nodes and the trade stages
NODE_LABELS = {
    "mining": "mining &\nbeneficiation",
    "refining": "refining &\nseparation",
    "fabrication": "fabrication",
    "manufacturing": "manufacturing",
    "use": "use",
    "waste": "waste\nmanagement",
    "ore": "official mining",
    "unregistered_mining": "unregistered mining",
    "import": "imports",
    "export": "exports",
    "export_unregistered": "unregistered exports",
    "loss": "losses",
    "landfill": "landfill",
}
#: link colour by the kind of flow (Okabe-Ito)
LINK_COLOURS = {
    "chain": "#0072B2",
    "import": "#009E73",
    "export": "#E69F00",
    "unregistered": "#D55E00",
    "loss": "#999999",
    "recycling": "#56B4E9",
    "source": "#000000",
}
PROCESS_COLOUR = "#444444"

FLOW_AXIS = "t Nd yr$^{-1}$"
STOCK_AXIS = "t Nd"


def group_colour(group: str, index: int = 0) -> str:
    """Hue of a product group."""
    if group in GROUP_COLOURS:
        return GROUP_COLOURS[group]
    return _SPARE[index % len(_SPARE)]


def shades(colour: str, n: int) -> list[str]:
    """`n` shades of `colour`, from darker to lighter, for the products of one group."""
    if n <= 1:
        return [to_hex(to_rgb(colour))]
    base = to_rgb(colour)
    lo, hi = (-0.35, 0.6) if n <= 5 else (-0.5, 0.75)
    out = []
    for i in range(n):
        t = lo + (hi - lo) * i / (n - 1)  # < 0 darkens towards black, > 0 lightens towards white
        if t < 0:
            rgb = tuple(c * (1 + t) for c in base)
        else:
            rgb = tuple(c + (1 - c) * t * 0.75 for c in base)
        out.append(to_hex(rgb))
    if n > 5:  # many members: interleave dark and light so neighbouring layers differ more
        half = (n + 1) // 2
        out = [out[i // 2 + (half if i % 2 else 0)] for i in range(n)]
    return out


def product_colours(
    groups: dict[str, list[str]], categories: dict[str, str] | None = None
) -> dict[str, str]:
    """A colour per product: shades of its category's hue (given), else of its group's."""
    colours: dict[str, str] = {}
    if categories:
        spare = iter(_SPARE * 4)
        hues: dict[str, str] = {}
        members_of: dict[str, list[str]] = {}
        for members in groups.values():
            for p in members:
                c = categories.get(p, "")
                if c not in hues:
                    hues[c] = CATEGORY_COLOURS.get(c) or next(spare)
                members_of.setdefault(c, []).append(p)
        for c, members in members_of.items():
            base = hues[c]
            if base == OKABE_ITO["black"]:  # a black layer hides its neighbours' edges
                base = "#555555"
            colours.update(zip(members, shades(base, len(members)), strict=True))
        return colours
    for i, (group, members) in enumerate(groups.items()):
        colours.update(zip(members, shades(group_colour(group, i), len(members)), strict=True))
    return colours


def link_kind(origin: str, destination: str, processes: tuple[str, ...]) -> str:
    """The kind of a `flow` link, for its colour."""
    if origin in ("unregistered_mining",) or destination == "export_unregistered":
        return "unregistered"
    if origin == "import":
        return "import"
    if destination == "export":
        return "export"
    if destination in ("loss", "landfill"):
        return "loss"
    if origin == "ore":
        return "source"
    if origin in processes and destination in processes:
        if processes.index(destination) < processes.index(origin):
            return "recycling"
    return "chain"


def fmt_value(value: float) -> str:
    """A flow value for a label: thousands separators, no false precision."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.1f}"
    return f"{value:.2g}"
