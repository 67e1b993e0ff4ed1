use super::draw::clip_y;
use super::save::write_figure;
use super::*;
use std::path::Path;

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
