"""Component styles that follow the theme, translucent colours included.

``get_component_rich_style(name, partial=True)`` drops a colour's alpha: ``$foreground-muted``
(the theme's foreground at 60%) came out as the full foreground, and ``auto`` colours such as
``$text-muted`` were worked out against no background at all, which made them white on
light themes. Here a translucent colour is blended over the widget's own background.
"""

from __future__ import annotations

from rich.style import Style
from textual.widget import Widget


def component_style(widget: Widget, name: str) -> Style:
    """The partial Rich style of ``widget``'s component class ``name``, its colour (when
    translucent) blended over the widget's background."""
    style = widget.get_component_rich_style(name, partial=True)
    color = widget.get_component_styles(name).color
    if color.a < 1:
        _, background = widget.background_colors
        style += Style(color=(background + color).rich_color)
    return style
