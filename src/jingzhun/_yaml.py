"""Where a key is in a YAML file, for error messages that name the line (mappings, rule files,
segment schemes). PyYAML's composed nodes carry their positions; this walks them."""

from __future__ import annotations

from collections.abc import Sequence

import yaml


def yaml_line(source: str | yaml.Node | None, loc: Sequence) -> int | None:
    """1-based line of the node at ``loc`` (mapping keys and list indices) in ``source`` (YAML
    text or a composed node): the deepest part of ``loc`` that exists; None if none does."""
    node = source
    if isinstance(source, str):
        try:
            node = yaml.compose(source)
        except yaml.YAMLError:
            return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            hit = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if hit is None:
                break
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
