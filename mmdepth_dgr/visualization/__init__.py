from .depth_colour import colorize_depth, depth_range
from .depth_visualizer import DepthLocalVisualizer

__all__ = ['DepthLocalVisualizer', 'colorize_depth', 'depth_range']
