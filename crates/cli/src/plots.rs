//! Plots as PNG and SVG (being written).
