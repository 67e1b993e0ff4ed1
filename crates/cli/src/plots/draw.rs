//! Drawing a plot description onto a plotters area: ranges, axes, lines, bands, points.

use super::{FONT, Legend, LinePlot, PALETTE, Style};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

fn colour(index: usize) -> RGBColor {
    let (r, g, b) = PALETTE[index % PALETTE.len()];
    RGBColor(r, g, b)
}

fn line_style(style: Style) -> ShapeStyle {
    colour(style.colour).stroke_width(style.width.max(1))
}

pub(super) fn draw_grid<DB: DrawingBackend>(
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
pub(super) fn clip_y(run: &[(f64, f64)], ylo: f64, yhi: f64) -> Vec<Vec<(f64, f64)>> {
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
        let line = vec![(v.x, yr.start), (v.x, yr.end)];
        draw_straight(&mut chart, line, v.style)?;
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
        let line = vec![(xr.start, h.y), (xr.end, h.y)];
        draw_straight(&mut chart, line, h.style)?;
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

/// A straight reference line, solid or dashed as its style says.
fn draw_straight<'a, DB, X>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>,
    line: Vec<(f64, f64)>,
    style: Style,
) -> Result<(), String>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let shape = line_style(style);
    let drawn = if style.dashed {
        chart.draw_series(DashedLineSeries::new(line, 8, 5, shape))
    } else {
        chart.draw_series(LineSeries::new(line, shape))
    };
    drawn.map(|_| ()).map_err(|e| e.to_string())
}
