//! Figures as PNG and SVG from plain data: line plots with bands, reference lines and points,
//! single or as a grid of panels.
//!
//! Rendering is pure Rust (plotters); text uses the bundled DejaVu Sans (`assets/`), registered
//! as the `sans-serif` family at first use, so no system fonts are needed. Every figure is written
//! twice, `<path>.png` and `<path>.svg`. Non-finite values (and, on a log axis, x <= 0) are
//! skipped: a line is broken there rather than failing.
//!
//! Colours are indices into the tab10 palette ([`PALETTE`], cycling); [`GREY`] is the
//! conventional colour of a ground truth.

mod draw;
mod save;
#[cfg(test)]
mod tests;

pub use save::{save, save_panels};

use std::fmt;
use std::path::PathBuf;

/// Size of a single figure in pixels (PNG; the SVG uses the same user units).
pub const FIGURE_SIZE: (u32, u32) = (900, 600);
/// Size of one panel of [`save_panels`].
pub const PANEL_SIZE: (u32, u32) = (600, 420);

/// The tab10 palette (RGB); colour indices wrap around.
pub const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];
/// Palette index of grey.
pub const GREY: usize = 7;

/// The family name under which the bundled font is registered.
const FONT: &str = "sans-serif";

/// Why a figure could not be written.
#[derive(Debug)]
pub enum PlotError {
    /// The plot description is inconsistent (names the element).
    InvalidInput(String),
    /// The bundled font could not be loaded.
    Font,
    /// Creating the output directory failed.
    Io {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The plotting backend failed while drawing or writing the file.
    Render {
        /// The file being written.
        path: PathBuf,
        /// The backend's message.
        message: String,
    },
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlotError::InvalidInput(msg) => write!(f, "invalid plot: {msg}"),
            PlotError::Font => write!(f, "the bundled font DejaVuSans.ttf could not be loaded"),
            PlotError::Io { path, source } => {
                write!(f, "cannot create directory {}: {source}", path.display())
            }
            PlotError::Render { path, message } => {
                write!(f, "cannot render {}: {message}", path.display())
            }
        }
    }
}

/// No `source()`: every message already includes its cause, which a caller printing the
/// chain would otherwise print twice.
impl std::error::Error for PlotError {}

/// How a line is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    /// Palette index (wraps around).
    pub colour: usize,
    /// Dashed instead of solid.
    pub dashed: bool,
    /// Stroke width in pixels.
    pub width: u32,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            colour: 0,
            dashed: false,
            width: 2,
        }
    }
}

impl Style {
    /// Solid line of the given colour, width 2.
    pub fn colour(colour: usize) -> Self {
        Self {
            colour,
            ..Self::default()
        }
    }

    /// The same style, dashed.
    pub fn dashed(self) -> Self {
        Self {
            dashed: true,
            ..self
        }
    }

    /// The same style with another width.
    pub fn width(self, width: u32) -> Self {
        Self { width, ..self }
    }
}

/// A line through `(x[i], y[i])`; broken where a value is non-finite.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry (empty: none).
    pub label: String,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Ordinates, same length as `x`.
    pub y: Vec<f64>,
    /// Line style.
    pub style: Style,
}

impl Series {
    /// A solid line of colour 0.
    pub fn new(label: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Self {
            label: label.into(),
            x,
            y,
            style: Style::default(),
        }
    }

    /// The same series with another style.
    pub fn style(self, style: Style) -> Self {
        Self { style, ..self }
    }
}

/// A shaded area between `lower` and `upper` (translucent fill of the colour).
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// Legend entry (empty: none).
    pub label: String,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Lower edge, same length as `x`.
    pub lower: Vec<f64>,
    /// Upper edge, same length as `x`.
    pub upper: Vec<f64>,
    /// Palette index.
    pub colour: usize,
}

/// A vertical line across the plot, labelled at its top.
#[derive(Debug, Clone, PartialEq)]
pub struct VLine {
    /// Position.
    pub x: f64,
    /// Text drawn next to the line (empty: none).
    pub label: String,
    /// Line style.
    pub style: Style,
}

/// A horizontal line across the plot, labelled at its right end.
#[derive(Debug, Clone, PartialEq)]
pub struct HLine {
    /// Position.
    pub y: f64,
    /// Text drawn above the line (empty: none).
    pub label: String,
    /// Line style.
    pub style: Style,
}

/// Filled circular markers.
#[derive(Debug, Clone, PartialEq)]
pub struct Points {
    /// Legend entry (empty: none).
    pub label: String,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Ordinates, same length as `x`.
    pub y: Vec<f64>,
    /// Palette index.
    pub colour: usize,
    /// Marker radius in pixels.
    pub radius: u32,
}

impl Points {
    /// One unlabelled marker at (x, y).
    pub fn marker(x: f64, y: f64, colour: usize, radius: u32) -> Self {
        Points {
            label: String::new(),
            x: vec![x],
            y: vec![y],
            colour,
            radius,
        }
    }
}

/// Where the legend goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Legend {
    /// Upper right corner.
    #[default]
    UpperRight,
    /// Upper left corner.
    UpperLeft,
}

/// One set of axes with everything drawn on it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinePlot {
    /// Title above the axes.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// Lines.
    pub series: Vec<Series>,
    /// Shaded bands (drawn first, under the lines).
    pub bands: Vec<Band>,
    /// Vertical reference lines.
    pub vlines: Vec<VLine>,
    /// Horizontal reference lines.
    pub hlines: Vec<HLine>,
    /// Markers (drawn last, on top).
    pub points: Vec<Points>,
    /// Fixed y range; `None`: fitted to the data with a 5% margin.
    pub y_range: Option<(f64, f64)>,
    /// Logarithmic x axis (x <= 0 is skipped).
    pub log_x: bool,
    /// Legend position.
    pub legend: Legend,
}

impl LinePlot {
    /// An empty plot with title and axis labels.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            ..Self::default()
        }
    }
}

/// Length consistency and a sane y range.
fn check(plot: &LinePlot) -> Result<(), String> {
    for s in &plot.series {
        if s.x.len() != s.y.len() {
            return Err(format!(
                "series '{}': x has {} values, y has {}",
                s.label,
                s.x.len(),
                s.y.len()
            ));
        }
    }
    for b in &plot.bands {
        if b.x.len() != b.lower.len() || b.x.len() != b.upper.len() {
            return Err(format!(
                "band '{}': x, lower, upper have {}, {}, {} values",
                b.label,
                b.x.len(),
                b.lower.len(),
                b.upper.len()
            ));
        }
    }
    for p in &plot.points {
        if p.x.len() != p.y.len() {
            return Err(format!(
                "points '{}': x has {} values, y has {}",
                p.label,
                p.x.len(),
                p.y.len()
            ));
        }
    }
    if let Some((lo, hi)) = plot.y_range
        && !(lo.is_finite() && hi.is_finite() && lo < hi)
    {
        return Err(format!(
            "y_range ({lo}, {hi}) must be finite and increasing"
        ));
    }
    Ok(())
}
