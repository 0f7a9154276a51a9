//! Plain SVG line charts for `BENCHMARKS.md`: the lateness distribution
//! (`precision`) and how start-up time and memory grow with the number of
//! jobs (`startup`). Written by hand so the harness needs no plotting stack.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::engine::Engine;
use crate::report::{Results, thousands};
use crate::scenario::{precision, startup};

/// Where the plots go, relative to the workspace root (and to `BENCHMARKS.md`).
pub(crate) const PLOT_DIR: &str = "docs/bench";
/// The lateness plot's file name.
pub(crate) const LATENESS_SVG: &str = "lateness.svg";
/// The scale plot's file name.
pub(crate) const SCALE_SVG: &str = "scale.svg";

const WIDTH: f64 = 420.0;
const HEIGHT: f64 = 300.0;
const MARGIN_LEFT: f64 = 58.0;
const MARGIN_RIGHT: f64 = 14.0;
const MARGIN_TOP: f64 = 30.0;
const MARGIN_BOTTOM: f64 = 44.0;
/// Line colours, one per series index (colour-blind safe).
const COLOURS: [&str; 6] = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9"];

/// One line: its label, points, and whether it is drawn dashed (a baseline).
struct Series {
    label: String,
    points: Vec<(f64, f64)>,
    dashed: bool,
    colour: &'static str,
}

/// An axis: its title, range and whether it is logarithmic (base 10).
struct Axis {
    title: String,
    min: f64,
    max: f64,
    log: bool,
}

impl Axis {
    fn fraction(&self, value: f64) -> f64 {
        let (value, min, max) = if self.log {
            (value.max(f64::MIN_POSITIVE).log10(), self.min.log10(), self.max.log10())
        } else {
            (value, self.min, self.max)
        };
        if max > min {
            ((value - min) / (max - min)).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// Tick values: powers of ten on a log axis, about five round steps otherwise.
    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let (low, high) = (self.min.log10().floor() as i32, self.max.log10().ceil() as i32);
            return (low..=high)
                .map(|e| 10f64.powi(e))
                .filter(|v| *v >= self.min && *v <= self.max)
                .collect();
        }
        let span = self.max - self.min;
        if span <= 0.0 {
            return vec![self.min];
        }
        let raw = span / 5.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 2.5, 5.0, 10.0]
            .into_iter()
            .map(|m| m * magnitude)
            .find(|s| *s >= raw)
            .unwrap_or(raw);
        let mut ticks = Vec::new();
        let mut tick = (self.min / step).ceil() * step;
        while tick <= self.max + step * 1e-9 {
            ticks.push(tick);
            tick += step;
        }
        ticks
    }
}

fn tick_label(value: f64) -> String {
    if value >= 1000.0 && value.fract() == 0.0 {
        thousands(value as usize)
    } else if value.fract() == 0.0 {
        format!("{value:.0}")
    } else if value >= 0.1 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

/// One chart at `(x0, y0)` within a bigger SVG.
fn chart(svg: &mut String, x0: f64, y0: f64, title: &str, x: &Axis, y: &Axis, series: &[Series]) {
    let plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
    let plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;
    let px = |v: f64| x0 + MARGIN_LEFT + x.fraction(v) * plot_w;
    let py = |v: f64| y0 + MARGIN_TOP + (1.0 - y.fraction(v)) * plot_h;
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" font-size="13" font-weight="bold">{title}</text>"#,
        x0 + MARGIN_LEFT,
        y0 + 18.0
    );
    for tick in x.ticks() {
        let _ = writeln!(
            svg,
            r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#ddd"/><text x="{0:.1}" y="{3:.1}" font-size="10" text-anchor="middle">{4}</text>"##,
            px(tick),
            y0 + MARGIN_TOP,
            y0 + MARGIN_TOP + plot_h,
            y0 + MARGIN_TOP + plot_h + 13.0,
            tick_label(tick)
        );
    }
    for tick in y.ticks() {
        let _ = writeln!(
            svg,
            r##"<line x1="{0:.1}" y1="{1:.1}" x2="{2:.1}" y2="{1:.1}" stroke="#ddd"/><text x="{3:.1}" y="{4:.1}" font-size="10" text-anchor="end">{5}</text>"##,
            x0 + MARGIN_LEFT,
            py(tick),
            x0 + MARGIN_LEFT + plot_w,
            x0 + MARGIN_LEFT - 4.0,
            py(tick) + 3.5,
            tick_label(tick)
        );
    }
    let _ = writeln!(
        svg,
        r##"<rect x="{:.1}" y="{:.1}" width="{plot_w:.1}" height="{plot_h:.1}" fill="none" stroke="#888"/>"##,
        x0 + MARGIN_LEFT,
        y0 + MARGIN_TOP
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"#,
        x0 + MARGIN_LEFT + plot_w / 2.0,
        y0 + HEIGHT - 8.0,
        x.title
    );
    let _ = writeln!(
        svg,
        r#"<text transform="translate({:.1},{:.1}) rotate(-90)" font-size="11" text-anchor="middle">{}</text>"#,
        x0 + 13.0,
        y0 + MARGIN_TOP + plot_h / 2.0,
        y.title
    );
    for (index, line) in series.iter().enumerate() {
        let points: Vec<String> = line
            .points
            .iter()
            .map(|(vx, vy)| format!("{:.1},{:.1}", px(*vx), py(*vy)))
            .collect();
        let dash = if line.dashed { r#" stroke-dasharray="5,3""# } else { "" };
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.8"{dash}/>"#,
            points.join(" "),
            line.colour
        );
        for point in &points {
            let (cx, cy) = point.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(svg, r#"<circle cx="{cx}" cy="{cy}" r="2.2" fill="{}"/>"#, line.colour);
        }
        let legend_y = y0 + MARGIN_TOP + 12.0 + 13.0 * index as f64;
        let legend_x = x0 + MARGIN_LEFT + 8.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{legend_x:.1}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="{2}" stroke-width="2"{dash}/><text x="{3:.1}" y="{4:.1}" font-size="10">{5}</text>"#,
            legend_y,
            legend_x + 18.0,
            line.colour,
            legend_x + 22.0,
            legend_y + 3.5,
            line.label
        );
    }
}

fn document(charts: usize, body: &str) -> String {
    let width = WIDTH * charts as f64;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{HEIGHT:.0}" viewBox="0 0 {width:.0} {HEIGHT:.0}" font-family="sans-serif" fill="#222">
<rect width="100%" height="100%" fill="white"/>
{body}</svg>
"##
    )
}

/// The lateness plot: for each size and engine, the median over runs of
/// each percentile of lateness, percentile on the vertical axis.
fn lateness_svg(report: &precision::Report) -> Option<String> {
    let mut series = Vec::new();
    let mut max_ms: f64 = 0.0;
    for (size_index, size) in report.sizes().into_iter().enumerate() {
        for engine in Engine::ALL {
            let Some(row) = report.row(size, engine) else { continue };
            let runs: Vec<&Vec<f64>> = row
                .runs
                .iter()
                .filter(|r| r.failed.is_none() && r.quantiles_ms.len() == precision::QUANTILES.len())
                .map(|r| &r.quantiles_ms)
                .collect();
            if runs.is_empty() {
                continue;
            }
            // Up to p99.9: the last points are single samples and would set the scale.
            let points: Vec<(f64, f64)> = precision::QUANTILES
                .iter()
                .enumerate()
                .filter(|(_, q)| **q <= 99.9)
                .map(|(i, q)| {
                    let mut at: Vec<f64> = runs.iter().map(|r| r[i]).collect();
                    at.sort_by(f64::total_cmp);
                    (at[at.len() / 2], *q)
                })
                .collect();
            max_ms = points.iter().map(|p| p.0).fold(max_ms, f64::max);
            series.push(Series {
                label: format!("{} jobs, {}", thousands(size), engine.label()),
                points,
                dashed: engine != Engine::Heap,
                colour: COLOURS[size_index % COLOURS.len()],
            });
        }
    }
    if series.is_empty() {
        return None;
    }
    let x = Axis {
        title: "lateness (ms): function started − scheduled instant".to_owned(),
        min: 0.0,
        max: (max_ms * 1.05).max(0.5),
        log: false,
    };
    let y = Axis {
        title: "percentile of fires".to_owned(),
        min: 0.0,
        max: 100.0,
        log: false,
    };
    let mut body = String::new();
    chart(
        &mut body,
        0.0,
        0.0,
        "Lateness distribution (up to p99.9)",
        &x,
        &y,
        &series,
    );
    Some(document(1, &body))
}

/// The scale plot: start-up time and resident memory against the number of
/// jobs, log–log, one line per engine.
fn scale_svg(report: &startup::Report) -> Option<String> {
    let line = |engine: Engine, figure: &dyn Fn(&startup::Row) -> Option<f64>, index: usize| Series {
        label: engine.label().to_owned(),
        points: report
            .sizes
            .iter()
            .filter_map(|&rows| Some((rows as f64, figure(report.row(rows, engine)?)?)))
            .collect(),
        dashed: engine != Engine::Heap,
        colour: COLOURS[index],
    };
    let start = |row: &startup::Row| row.handed_over_s.map(|s| s.median);
    let rss = |row: &startup::Row| row.rss_after_mib.map(|s| s.median);
    let time_series: Vec<Series> = Engine::ALL
        .into_iter()
        .enumerate()
        .map(|(i, e)| line(e, &start, i))
        .filter(|s| !s.points.is_empty())
        .collect();
    let memory_series: Vec<Series> = Engine::ALL
        .into_iter()
        .enumerate()
        .map(|(i, e)| line(e, &rss, i))
        .filter(|s| !s.points.is_empty())
        .collect();
    if time_series.is_empty() {
        return None;
    }
    let bounds = |series: &[Series], pick: fn(&(f64, f64)) -> f64| {
        let values = series.iter().flat_map(|s| s.points.iter().map(pick));
        let (min, max) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        (10f64.powf(min.log10().floor()), 10f64.powf(max.log10().ceil()))
    };
    let (jobs_min, jobs_max) = bounds(&time_series, |p| p.0);
    let jobs_axis = || Axis {
        title: "jobs in the table".to_owned(),
        min: jobs_min,
        max: jobs_max,
        log: true,
    };
    let (time_min, time_max) = bounds(&time_series, |p| p.1);
    let (rss_min, rss_max) = bounds(&memory_series, |p| p.1);
    let mut body = String::new();
    chart(
        &mut body,
        0.0,
        0.0,
        "Start-up: every deadline armed (s)",
        &jobs_axis(),
        &Axis {
            title: "seconds (log)".to_owned(),
            min: time_min,
            max: time_max,
            log: true,
        },
        &time_series,
    );
    chart(
        &mut body,
        WIDTH,
        0.0,
        "Resident memory after start-up (MiB)",
        &jobs_axis(),
        &Axis {
            title: "MiB (log)".to_owned(),
            min: rss_min,
            max: rss_max,
            log: true,
        },
        &memory_series,
    );
    Some(document(2, &body))
}

/// Writes the plots the results have data for; returns their paths,
/// relative to the workspace root.
pub(crate) fn write_plots(root: &Path, results: &Results) -> Result<Vec<PathBuf>> {
    let dir = root.join(PLOT_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    let plots = [
        (
            LATENESS_SVG,
            results.precision.as_ref().and_then(|s| lateness_svg(&s.report)),
        ),
        (SCALE_SVG, results.startup.as_ref().and_then(|s| scale_svg(&s.report))),
    ];
    for (name, svg) in plots {
        if let Some(svg) = svg {
            let path = dir.join(name);
            std::fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))?;
            written.push(Path::new(PLOT_DIR).join(name));
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axis_ticks_are_powers_of_ten() {
        let axis = Axis {
            title: String::new(),
            min: 1_000.0,
            max: 1_000_000.0,
            log: true,
        };
        assert_eq!(axis.ticks(), vec![1e3, 1e4, 1e5, 1e6]);
        assert!((axis.fraction(1e4) - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn linear_axis_ticks_are_round() {
        let axis = Axis {
            title: String::new(),
            min: 0.0,
            max: 4.3,
            log: false,
        };
        assert_eq!(axis.ticks(), vec![0.0, 1.0, 2.0, 3.0, 4.0]);
    }
}
