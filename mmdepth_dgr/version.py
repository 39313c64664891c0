# Copyright (c) mmdepth_dgr contributors. All rights reserved.
__version__ = '0.1.0'


def parse_version_info(version_str: str) -> tuple:
    """Parse a version string such as ``'0.1.0'`` into ``(0, 1, 0)``.

    Args:
        version_str (str): The version string.

    Returns:
        tuple: Integer parts, with any non-numeric suffix kept as a string.
    """
    parts = []
    for x in version_str.split('.'):
        parts.append(int(x) if x.isdigit() else x)
    return tuple(parts)


version_info = parse_version_info(__version__)
