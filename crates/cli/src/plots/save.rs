//! Writing figures: PNG and SVG, each atomically, with the bundled font registered first.

use super::draw::draw_grid;
use super::{FIGURE_SIZE, FONT, LinePlot, PANEL_SIZE, PlotError, check};
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
static FONT_REGISTERED: OnceLock<bool> = OnceLock::new();

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
pub(super) fn write_figure(
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
