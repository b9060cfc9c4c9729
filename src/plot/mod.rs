//! SVG plots of a run directory.
