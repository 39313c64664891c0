from .colorbar import (colorbar_strip, hstack_panels, labelled_panel, nice_ticks, title_strip,
                       upscale_nearest, vertical_colorbar)
from .depth_colour import INVALID_COLOR, colorize_depth, depth_range
from .depth_visualizer import DepthLocalVisualizer, colorize_error

__all__ = ['DepthLocalVisualizer', 'colorize_depth', 'colorize_error', 'depth_range',
           'INVALID_COLOR', 'colorbar_strip', 'hstack_panels', 'labelled_panel',
           'nice_ticks', 'title_strip', 'upscale_nearest', 'vertical_colorbar']
