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

use plotters::coord::Shift;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

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

const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static FONT_REGISTERED: OnceLock<bool> = OnceLock::new();

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

/// Writes `plot` to `<path_without_ext>.png` (900 x 600) and `<path_without_ext>.svg`, creating
/// the parent directory if needed. Returns the two paths.
///
/// # Errors
/// Inconsistent lengths in an element, an invalid `y_range`, I/O or rendering failures.
pub fn save(plot: &LinePlot, path_without_ext: &Path) -> Result<Vec<PathBuf>, PlotError> {
    save_panels_sized(std::slice::from_ref(plot), 1, FIGURE_SIZE, path_without_ext)
}

/// Writes several plots as a grid of panels, `cols` per row, filled row by row
/// (each panel 600 x 420), to `<path_without_ext>.png` and `.svg`. Returns the two paths.
///
/// # Errors
/// No panels, `cols == 0`, and everything [`save`] reports.
pub fn save_panels(
    panels: &[LinePlot],
    cols: usize,
    path_without_ext: &Path,
) -> Result<Vec<PathBuf>, PlotError> {
    if cols == 0 {
        return Err(PlotError::InvalidInput("cols must be >= 1".into()));
    }
    let rows = panels.len().div_ceil(cols);
    let cols_used = cols.min(panels.len());
    let size = (PANEL_SIZE.0 * cols_used as u32, PANEL_SIZE.1 * rows as u32);
    save_panels_sized(panels, cols, size, path_without_ext)
}

fn save_panels_sized(
    panels: &[LinePlot],
    cols: usize,
    size: (u32, u32),
    path_without_ext: &Path,
) -> Result<Vec<PathBuf>, PlotError> {
    if panels.is_empty() {
        return Err(PlotError::InvalidInput("no panels to draw".into()));
    }
    for (k, plot) in panels.iter().enumerate() {
        check(plot).map_err(|msg| PlotError::InvalidInput(format!("panel {k}: {msg}")))?;
    }
    register_font()?;
    if let Some(dir) = path_without_ext
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| PlotError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let png = with_extension(path_without_ext, "png");
    let svg = with_extension(path_without_ext, "svg");
    let render = |path: &Path, message: String| PlotError::Render {
        path: path.to_path_buf(),
        message,
    };
    // Both files are written atomically (temporary file in the same directory, then rename):
    // a failure, a full disk included, leaves no truncated figure behind.
    let mut svg_text = String::new();
    {
        let root = SVGBackend::with_string(&mut svg_text, size).into_drawing_area();
        draw_grid(&root, panels, cols).map_err(|m| render(&svg, m))?;
        root.present().map_err(|e| render(&svg, e.to_string()))?;
    }
    write_figure(&png, |tmp| {
        let root = BitMapBackend::new(tmp, size).into_drawing_area();
        draw_grid(&root, panels, cols)?;
        root.present().map_err(|e| e.to_string())
    })?;
    write_figure(&svg, |tmp| {
        std::fs::write(tmp, svg_text.as_bytes()).map_err(|e| e.to_string())
    })?;
    Ok(vec![png, svg])
}

/// Writes `path` atomically through `draw`, which writes the whole file at the temporary path
/// it is given (same directory and extension). On failure nothing is left at either path.
fn write_figure(
    path: &Path,
    draw: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), PlotError> {
    let mut message = None;
    latentflow::data::write_atomic_with(path, |tmp| {
        draw(tmp).map_err(|m| {
            message = Some(m.clone());
            std::io::Error::other(m)
        })
    })
    .map_err(|e| PlotError::Render {
        path: path.to_path_buf(),
        // The drawing's own message, or the I/O error (which names the file again).
        message: message.unwrap_or_else(|| match e {
            latentflow::data::DataError::Io { error, .. } => error.to_string(),
            other => other.to_string(),
        }),
    })
}

/// `path` with `.ext` appended (not replacing a dotted suffix such as `fig.kl`).
fn with_extension(path: &Path, ext: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

fn register_font() -> Result<(), PlotError> {
    let ok = *FONT_REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok { Ok(()) } else { Err(PlotError::Font) }
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

fn colour(index: usize) -> RGBColor {
    let (r, g, b) = PALETTE[index % PALETTE.len()];
    RGBColor(r, g, b)
}

fn line_style(style: Style) -> ShapeStyle {
    colour(style.colour).stroke_width(style.width.max(1))
}

fn draw_grid<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panels: &[LinePlot],
    cols: usize,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let rows = panels.len().div_ceil(cols);
    let cols_used = cols.min(panels.len());
    let areas = root.split_evenly((rows, cols_used));
    for (plot, area) in panels.iter().zip(&areas) {
        draw_plot(area, plot)?;
    }
    Ok(())
}

/// Data ranges `(x, y)` over everything drawn, skipping non-finite values (and x <= 0 on a
/// log axis); a degenerate or empty range is widened.
fn ranges(plot: &LinePlot) -> ((f64, f64), (f64, f64)) {
    let usable_x = |x: f64| x.is_finite() && (!plot.log_x || x > 0.0);
    let mut xs = Extent::default();
    let mut ys = Extent::default();
    let mut pairs = |x: &[f64], y: &[f64]| {
        for (&a, &b) in x.iter().zip(y) {
            if usable_x(a) && b.is_finite() {
                xs.add(a);
                ys.add(b);
            }
        }
    };
    for s in &plot.series {
        pairs(&s.x, &s.y);
    }
    for p in &plot.points {
        pairs(&p.x, &p.y);
    }
    for b in &plot.bands {
        pairs(&b.x, &b.lower);
        pairs(&b.x, &b.upper);
    }
    for v in &plot.vlines {
        if usable_x(v.x) {
            xs.add(v.x);
        }
    }
    for h in &plot.hlines {
        if h.y.is_finite() {
            ys.add(h.y);
        }
    }
    let x = if plot.log_x {
        let (lo, hi) = xs.get().unwrap_or((1.0, 10.0));
        if lo < hi {
            (lo, hi)
        } else {
            (lo / 2.0, hi * 2.0)
        }
    } else {
        widen(xs.get(), 0.0)
    };
    let y = plot.y_range.unwrap_or_else(|| widen(ys.get(), 0.05));
    (x, y)
}

#[derive(Default)]
struct Extent(Option<(f64, f64)>);

impl Extent {
    fn add(&mut self, v: f64) {
        self.0 = Some(match self.0 {
            None => (v, v),
            Some((lo, hi)) => (lo.min(v), hi.max(v)),
        });
    }

    fn get(&self) -> Option<(f64, f64)> {
        self.0
    }
}

/// `[lo, hi]` with a relative margin; `[v - 0.5, v + 0.5]`-like for a single value, `[0, 1]`
/// for no value.
fn widen(range: Option<(f64, f64)>, margin: f64) -> (f64, f64) {
    match range {
        None => (0.0, 1.0),
        Some((lo, hi)) if lo < hi => {
            let pad = margin * (hi - lo);
            (lo - pad, hi + pad)
        }
        Some((v, _)) => {
            let pad = if v == 0.0 { 0.5 } else { 0.1 * v.abs() };
            (v - pad, v + pad)
        }
    }
}

fn draw_plot<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    plot: &LinePlot,
) -> Result<(), String> {
    let ((x0, x1), (y0, y1)) = ranges(plot);
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(&plot.title, (FONT, 22))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(72);
    if plot.log_x {
        let chart = builder
            .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
            .map_err(|e| e.to_string())?;
        draw_content(chart, plot)
    } else {
        let chart = builder
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?;
        draw_content(chart, plot)
    }
}

/// Maximal runs of consecutive indices where `usable` is true.
fn index_runs(usable: &[bool]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut run = Vec::new();
    for (i, &ok) in usable.iter().enumerate() {
        if ok {
            run.push(i);
        } else if !run.is_empty() {
            out.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

/// The visible pieces of the polyline `run` inside the band `ylo <= y <= yhi`: segments are cut
/// where they cross a bound (plotters would otherwise pin outside points to the edge).
fn clip_y(run: &[(f64, f64)], ylo: f64, yhi: f64) -> Vec<Vec<(f64, f64)>> {
    let inside = |y: f64| (ylo..=yhi).contains(&y);
    let mut pieces: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    if let [only] = run
        && inside(only.1)
    {
        return vec![vec![*only]];
    }
    for pair in run.windows(2) {
        let ((xa, ya), (xb, yb)) = (pair[0], pair[1]);
        // Parameter interval [t0, t1] of the segment inside the band.
        let (t0, t1) = if ya == yb {
            if inside(ya) { (0.0, 1.0) } else { (1.0, 0.0) }
        } else {
            let ta = (ylo - ya) / (yb - ya);
            let tb = (yhi - ya) / (yb - ya);
            (ta.min(tb).max(0.0), ta.max(tb).min(1.0))
        };
        if t0 > t1 {
            if current.len() > 1 {
                pieces.push(std::mem::take(&mut current));
            }
            current.clear();
            continue;
        }
        let at = |t: f64| (xa + t * (xb - xa), (ya + t * (yb - ya)).clamp(ylo, yhi));
        if t0 > 0.0 || current.is_empty() {
            if current.len() > 1 {
                pieces.push(std::mem::take(&mut current));
            }
            current = vec![at(t0)];
        }
        current.push(at(t1));
        if t1 < 1.0 {
            pieces.push(std::mem::take(&mut current));
        }
    }
    if current.len() > 1 {
        pieces.push(current);
    }
    pieces
}

fn draw_content<'a, DB, X>(
    mut chart: ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>,
    plot: &LinePlot,
) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    chart
        .configure_mesh()
        .x_desc(plot.x_label.as_str())
        .y_desc(plot.y_label.as_str())
        .axis_desc_style((FONT, 17))
        .label_style((FONT, 14))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .map_err(err)?;
    let (xr, yr) = (chart.x_range(), chart.y_range());
    let (ylo, yhi) = (yr.start, yr.end);
    let usable_x = |x: f64| x.is_finite() && (!plot.log_x || x > 0.0);
    let mut has_legend = false;

    for band in &plot.bands {
        let fill = colour(band.colour).mix(0.25).filled();
        let mut labelled = false;
        // Runs of nodes where x, lower and upper are all usable.
        let usable: Vec<bool> = (0..band.x.len())
            .map(|i| usable_x(band.x[i]) && band.lower[i].is_finite() && band.upper[i].is_finite())
            .collect();
        let runs = index_runs(&usable);
        for run in runs {
            let outline: Vec<(f64, f64)> = run
                .iter()
                .map(|&i| (band.x[i], band.upper[i].clamp(ylo, yhi)))
                .chain(
                    run.iter()
                        .rev()
                        .map(|&i| (band.x[i], band.lower[i].clamp(ylo, yhi))),
                )
                .collect();
            let drawn = chart
                .draw_series(std::iter::once(Polygon::new(outline, fill)))
                .map_err(err)?;
            if !labelled && !band.label.is_empty() {
                labelled = true;
                has_legend = true;
                drawn
                    .label(band.label.as_str())
                    .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], fill));
            }
        }
    }

    for s in &plot.series {
        let style = line_style(s.style);
        let mut labelled = false;
        let usable: Vec<bool> = (0..s.x.len())
            .map(|i| usable_x(s.x[i]) && s.y[i].is_finite())
            .collect();
        let pieces = index_runs(&usable).into_iter().flat_map(|run| {
            let run: Vec<(f64, f64)> = run.iter().map(|&i| (s.x[i], s.y[i])).collect();
            clip_y(&run, ylo, yhi)
        });
        for run in pieces {
            let drawn = if s.style.dashed {
                chart
                    .draw_series(DashedLineSeries::new(run, 8, 5, style))
                    .map_err(err)?
            } else {
                chart
                    .draw_series(LineSeries::new(run, style))
                    .map_err(err)?
            };
            if !labelled && !s.label.is_empty() {
                labelled = true;
                has_legend = true;
                let dashed = s.style.dashed;
                drawn.label(s.label.as_str()).legend(move |(x, y)| {
                    if dashed {
                        DashedPathElement::new(vec![(x, y), (x + 20, y)], 5, 3, style).into_dyn()
                    } else {
                        PathElement::new(vec![(x, y), (x + 20, y)], style).into_dyn()
                    }
                });
            }
        }
    }

    for v in plot.vlines.iter().filter(|v| usable_x(v.x)) {
        let style = line_style(v.style);
        let line = vec![(v.x, yr.start), (v.x, yr.end)];
        if v.style.dashed {
            chart
                .draw_series(DashedLineSeries::new(line, 8, 5, style))
                .map_err(err)?;
        } else {
            chart
                .draw_series(LineSeries::new(line, style))
                .map_err(err)?;
        }
        if !v.label.is_empty() {
            let font = (FONT, 14).into_font().color(&colour(v.style.colour));
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((v.x, yr.end)) + Text::new(v.label.clone(), (5, 4), font),
                ))
                .map_err(err)?;
        }
    }

    for h in plot.hlines.iter().filter(|h| (ylo..=yhi).contains(&h.y)) {
        let style = line_style(h.style);
        let line = vec![(xr.start, h.y), (xr.end, h.y)];
        if h.style.dashed {
            chart
                .draw_series(DashedLineSeries::new(line, 8, 5, style))
                .map_err(err)?;
        } else {
            chart
                .draw_series(LineSeries::new(line, style))
                .map_err(err)?;
        }
        if !h.label.is_empty() {
            let font = (FONT, 14).into_font().color(&colour(h.style.colour));
            let width = chart
                .plotting_area()
                .estimate_text_size(&h.label, &font)
                .map_or(0, |(w, _)| i32::try_from(w).unwrap_or(0));
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((xr.end, h.y))
                        + Text::new(h.label.clone(), (-width - 6, -18), font),
                ))
                .map_err(err)?;
        }
    }

    for p in &plot.points {
        let fill = colour(p.colour).filled();
        let radius = p.radius.max(1);
        let pts: Vec<(f64, f64)> =
            p.x.iter()
                .zip(&p.y)
                .filter(|(a, b)| usable_x(**a) && (ylo..=yhi).contains(*b))
                .map(|(a, b)| (*a, *b))
                .collect();
        if pts.is_empty() {
            continue;
        }
        let drawn = chart
            .draw_series(pts.into_iter().map(|c| Circle::new(c, radius, fill)))
            .map_err(err)?;
        if !p.label.is_empty() {
            has_legend = true;
            drawn
                .label(p.label.as_str())
                .legend(move |(x, y)| Circle::new((x + 10, y), radius, fill));
        }
    }

    let position = match plot.legend {
        Legend::UpperRight => SeriesLabelPosition::UpperRight,
        Legend::UpperLeft => SeriesLabelPosition::UpperLeft,
    };
    if has_legend {
        chart
            .configure_series_labels()
            .position(position)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let dir = std::env::temp_dir().join(format!(
                "latentflow-plots-{name}-{}-{nanos}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A plot using every feature, with NaN and infinite values sprinkled in.
    fn everything(title: &str, log_x: bool) -> LinePlot {
        let x: Vec<f64> = (0..200).map(|i| -1.0 + 2.0 * i as f64 / 199.0).collect();
        let phi = |x: f64| {
            let s = x / 0.6;
            2.0 * (s.powi(4) - 2.0 * s * s)
        };
        let truth: Vec<f64> = x.iter().map(|&v| phi(v)).collect();
        let mut fit: Vec<f64> = x.iter().map(|&v| phi(v) + 0.3 * (5.0 * v).sin()).collect();
        fit[50] = f64::NAN;
        fit[51] = f64::INFINITY;
        let x = if log_x {
            (0..200).map(|i| 10f64.powf(i as f64 / 40.0)).collect()
        } else {
            x
        };
        let upper: Vec<f64> = truth.iter().map(|v| v + 0.5).collect();
        let lower: Vec<f64> = truth.iter().map(|v| v - 0.5).collect();
        let mut lower = lower;
        lower[120] = f64::NAN;
        LinePlot {
            title: title.into(),
            x_label: "latent state x".into(),
            y_label: "potential Φ(x)".into(),
            series: vec![
                Series::new("ground truth", x.clone(), truth).style(Style::colour(GREY).width(3)),
                Series::new("fit (data half 1)", x.clone(), fit).style(Style::colour(0)),
                Series::new("dashed", x.clone(), x.iter().map(|v| 0.5 * v).collect())
                    .style(Style::colour(1).dashed()),
            ],
            bands: vec![Band {
                label: "spread".into(),
                x: x.clone(),
                lower,
                upper,
                colour: 2,
            }],
            vlines: vec![
                VLine {
                    x: x[100],
                    label: "M*".into(),
                    style: Style::colour(3).dashed(),
                },
                VLine {
                    x: f64::NAN,
                    label: "skipped".into(),
                    style: Style::default(),
                },
            ],
            hlines: vec![HLine {
                y: 1.0,
                label: "threshold 0.01".into(),
                style: Style::colour(GREY).dashed().width(1),
            }],
            points: vec![Points {
                label: "selected".into(),
                x: vec![x[30], x[170], f64::NAN],
                y: vec![-1.5, -1.5, 0.0],
                colour: 3,
                radius: 5,
            }],
            y_range: None,
            log_x,
            legend: Legend::UpperRight,
        }
    }

    fn check_files(paths: &[PathBuf], title: &str) {
        assert_eq!(paths.len(), 2);
        let png = std::fs::read(&paths[0]).unwrap();
        assert!(png.len() > 1000, "png has {} bytes", png.len());
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let svg = std::fs::read_to_string(&paths[1]).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        assert!(svg.contains(title), "the SVG lacks the title");
    }

    #[test]
    fn renders_png_and_svg_with_every_feature() {
        let dir = TempDir::new("single");
        let title = "Double well: fit vs ground truth";
        let paths = save(&everything(title, false), &dir.0.join("sub/figure.v1")).unwrap();
        assert_eq!(paths[0], dir.0.join("sub/figure.v1.png"));
        assert_eq!(paths[1], dir.0.join("sub/figure.v1.svg"));
        check_files(&paths, title);
        if let Ok(keep) = std::env::var("LATENTFLOW_KEEP_PLOTS") {
            std::fs::copy(&paths[0], format!("{keep}/single.png")).unwrap();
        }
    }

    #[test]
    fn renders_panels_with_a_log_axis_and_degenerate_data() {
        let dir = TempDir::new("panels");
        let empty = LinePlot::new("Empty panel", "x", "y");
        let mut constant = LinePlot::new("Constant", "iteration", "value");
        constant
            .series
            .push(Series::new("c", vec![1.0, 2.0], vec![3.0, 3.0]));
        constant.y_range = Some((0.0, 5.0));
        let mut all_bad = LinePlot::new("Only non-finite", "x", "y");
        all_bad.series.push(Series::new(
            "nan",
            vec![f64::NAN; 3],
            vec![1.0, f64::INFINITY, 2.0],
        ));
        let panels = vec![
            everything("Panel A: linear", false),
            everything("Panel B: log x", true),
            empty,
            constant,
            all_bad,
        ];
        let paths = save_panels(&panels, 2, &dir.0.join("grid")).unwrap();
        check_files(&paths, "Panel B: log x");
        let svg = std::fs::read_to_string(&paths[1]).unwrap();
        assert!(svg.contains("Only non-finite"));
        if let Ok(keep) = std::env::var("LATENTFLOW_KEEP_PLOTS") {
            std::fs::copy(&paths[0], format!("{keep}/panels.png")).unwrap();
        }
    }

    #[test]
    fn lines_are_cut_at_the_y_range() {
        // Up through the top, down again, then a flat stretch outside.
        let run = [(0.0, 0.0), (1.0, 2.0), (2.0, 0.0), (3.0, 5.0), (4.0, 5.0)];
        let pieces = clip_y(&run, -1.0, 1.0);
        assert_eq!(
            pieces,
            vec![
                vec![(0.0, 0.0), (0.5, 1.0)],
                vec![(1.5, 1.0), (2.0, 0.0), (2.2, 1.0)],
            ]
        );
        assert_eq!(clip_y(&[(0.0, 0.5)], 0.0, 1.0), vec![vec![(0.0, 0.5)]]);
        assert!(clip_y(&[(0.0, 3.0), (1.0, 4.0)], 0.0, 1.0).is_empty());
    }

    #[test]
    fn inconsistent_input_is_an_error() {
        let dir = TempDir::new("errors");
        let mut plot = LinePlot::new("t", "x", "y");
        plot.series
            .push(Series::new("bad", vec![1.0, 2.0], vec![1.0]));
        let err = save(&plot, &dir.0.join("bad")).unwrap_err();
        assert!(err.to_string().contains("series 'bad'"), "{err}");
        let mut plot = LinePlot::new("t", "x", "y");
        plot.y_range = Some((1.0, 1.0));
        assert!(matches!(
            save(&plot, &dir.0.join("bad")),
            Err(PlotError::InvalidInput(_))
        ));
        assert!(save_panels(&[], 2, &dir.0.join("none")).is_err());
        assert!(save_panels(&[LinePlot::default()], 0, &dir.0.join("none")).is_err());
        assert!(!dir.0.join("bad.png").exists());
    }

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_full_disk_leaves_no_truncated_figure() {
        let dir = TempDir::new("full");
        let png = dir.0.join("fig.png");
        // The encoder gets part of the file out, then the disk is full (injected).
        let err = write_figure(&png, |tmp| {
            std::fs::write(tmp, b"\x89PNG\r\n").map_err(|e| e.to_string())?;
            Err(std::io::Error::from_raw_os_error(28).to_string())
        })
        .unwrap_err();
        assert!(err.to_string().contains("fig.png"), "{err}");
        assert!(err.to_string().contains("No space left"), "{err}");
        assert!(names(&dir.0).is_empty(), "{:?}", names(&dir.0));
        // A figure that exists keeps its old contents when the new one cannot be written.
        let paths = save(&everything("old", false), &dir.0.join("fig")).unwrap();
        let before: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
        write_figure(&paths[0], |tmp| {
            std::fs::write(tmp, b"trunc").map_err(|e| e.to_string())?;
            Err("disk full".into())
        })
        .unwrap_err();
        assert_eq!(std::fs::read(&paths[0]).unwrap(), before[0]);
        assert_eq!(
            names(&dir.0),
            vec!["fig.png".to_string(), "fig.svg".to_string()]
        );
        // A target that cannot be created (its directory is a file) fails cleanly too.
        let err = save(&everything("t", false), &dir.0.join("fig.png/inside")).unwrap_err();
        assert!(err.to_string().contains("fig.png"), "{err}");
        assert_eq!(
            names(&dir.0),
            vec!["fig.png".to_string(), "fig.svg".to_string()]
        );
    }
}
