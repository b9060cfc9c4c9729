//! Circuit sizes on the grid: a 2D heat map with the sizes written in and a
//! 3D bar chart (circuits.csv).

use super::{pe, seq_color, write_svg};
use crate::model::network::Circuit;
use crate::rundir::read_circuits;
use anyhow::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};

/// Tick label only at integer positions.
fn int_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-6 {
        format!("{}", v.round() as i64)
    } else {
        String::new()
    }
}

/// Grid size and the range of K, for the colour scale.
struct Grid {
    n: usize,
    m: usize,
    kmin: f64,
    kmax: f64,
    n_circuits: usize,
}

impl Grid {
    fn of(circuits: &[Circuit]) -> Grid {
        Grid {
            n: circuits.iter().map(|c| c.x + 1).max().unwrap_or(1),
            m: circuits.iter().map(|c| c.y + 1).max().unwrap_or(1),
            kmin: circuits.iter().map(|c| c.k).min().unwrap_or(0) as f64,
            kmax: circuits.iter().map(|c| c.k).max().unwrap_or(1) as f64,
            n_circuits: circuits.len(),
        }
    }

    /// K on `[0, 1]` for the colour map.
    fn norm(&self, k: usize) -> f64 {
        if self.kmax > self.kmin {
            (k as f64 - self.kmin) / (self.kmax - self.kmin)
        } else {
            0.5
        }
    }
}

pub fn render(dir: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    let circuits = read_circuits(dir)?;
    if circuits.is_empty() {
        return Ok(Vec::new());
    }
    let g = Grid::of(&circuits);
    let heat = out.join("grid_heatmap.svg");
    heatmap(&heat, &circuits, &g)?;
    let bars = out.join("grid_bars3d.svg");
    bars3d(&bars, &circuits, &g)?;
    Ok(vec![heat, bars])
}

/// 2D heat map: x (grid row index) horizontal, y vertical, K written in.
fn heatmap(path: &Path, circuits: &[Circuit], g: &Grid) -> Result<()> {
    let mut buf = String::new();
    {
        let cell = (560.0 / g.n.max(g.m) as f64).clamp(30.0, 80.0);
        let w = (cell * g.n as f64) as u32 + 160;
        let h = (cell * g.m as f64) as u32 + 110;
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(pe)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("Circuit sizes K on the {} x {} grid", g.n, g.m),
                ("sans-serif", 16),
            )
            .margin(10)
            .margin_right(90)
            .x_label_area_size(40)
            .y_label_area_size(45)
            .build_cartesian_2d(-0.5..g.n as f64 - 0.5, -0.5..g.m as f64 - 0.5)
            .map_err(pe)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(g.n.min(20) + 1)
            .y_labels(g.m.min(20) + 1)
            .x_label_formatter(&int_label)
            .y_label_formatter(&int_label)
            .x_desc("grid x")
            .y_desc("grid y")
            .draw()
            .map_err(pe)?;
        chart
            .draw_series(circuits.iter().map(|c| {
                Rectangle::new(
                    [
                        (c.x as f64 - 0.5, c.y as f64 - 0.5),
                        (c.x as f64 + 0.5, c.y as f64 + 0.5),
                    ],
                    seq_color(g.norm(c.k)).filled(),
                )
            }))
            .map_err(pe)?;
        let fs = (cell * 0.35).clamp(10.0, 22.0) as i32;
        chart
            .draw_series(circuits.iter().map(|c| {
                let color = if g.norm(c.k) > 0.6 { &BLACK } else { &WHITE };
                Text::new(
                    c.k.to_string(),
                    (c.x as f64, c.y as f64),
                    ("sans-serif", fs)
                        .into_font()
                        .color(color)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                )
            }))
            .map_err(pe)?;
        colour_bar(&root, (w, h), g)?;
        root.present().map_err(pe)?;
    }
    write_svg(path, buf, "")
}

/// The colour bar of the heat map at the right edge of a `(w, h)` image.
fn colour_bar(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    (w, h): (u32, u32),
    g: &Grid,
) -> Result<()> {
    let (bx, by0, by1) = (w as i32 - 70, 40, h as i32 - 60);
    let steps = 20;
    for s in 0..steps {
        let f0 = s as f64 / steps as f64;
        let y_top = by1 - ((s + 1) as f64 / steps as f64 * (by1 - by0) as f64) as i32;
        let y_bot = by1 - (f0 * (by1 - by0) as f64) as i32;
        root.draw(&Rectangle::new(
            [(bx, y_top), (bx + 16, y_bot)],
            seq_color(f0 + 0.5 / steps as f64).filled(),
        ))
        .map_err(pe)?;
    }
    let lab = ("sans-serif", 12).into_font();
    root.draw(&Text::new(
        format!("{}", g.kmax),
        (bx + 20, by0),
        lab.clone(),
    ))
    .map_err(pe)?;
    root.draw(&Text::new(
        format!("{}", g.kmin),
        (bx + 20, by1 - 12),
        lab.clone(),
    ))
    .map_err(pe)?;
    root.draw(&Text::new("K", (bx + 4, by0 - 18), lab))
        .map_err(pe)?;
    Ok(())
}

/// 3D bar chart of K over the grid.
fn bars3d(path: &Path, circuits: &[Circuit], g: &Grid) -> Result<()> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (700, 560)).into_drawing_area();
        root.fill(&WHITE).map_err(pe)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Circuit sizes K (3D)", ("sans-serif", 16))
            .margin(20)
            .build_cartesian_3d(0.0..g.n as f64, 0.0..g.kmax.max(1.0), 0.0..g.m as f64)
            .map_err(pe)?;
        chart.with_projection(|mut pb| {
            pb.yaw = 0.6;
            pb.pitch = 0.45;
            pb.scale = 0.85;
            pb.into_matrix()
        });
        chart
            .configure_axes()
            .light_grid_style(BLACK.mix(0.1))
            .max_light_lines(3)
            .draw()
            .map_err(pe)?;
        let mut cs = circuits.to_vec();
        // draw far bars first so nearer ones cover them
        cs.sort_by(|a, b| (a.x + a.y).cmp(&(b.x + b.y)).then(a.y.cmp(&b.y)));
        chart
            .draw_series(cs.iter().map(|c| {
                Cubiod::new(
                    [
                        (c.x as f64 + 0.1, 0.0, c.y as f64 + 0.1),
                        (c.x as f64 + 0.9, c.k as f64, c.y as f64 + 0.9),
                    ],
                    seq_color(g.norm(c.k)).mix(0.9).filled(),
                    // edges only while they stay readable (and the file small)
                    if g.n_circuits <= 200 {
                        BLACK.mix(0.6)
                    } else {
                        TRANSPARENT
                    },
                )
            }))
            .map_err(pe)?;
        let lab = ("sans-serif", 13).into_font();
        root.draw(&Text::new(
            "axes: grid x (0..n), K (vertical), grid y (0..m)",
            (20, 530),
            lab,
        ))
        .map_err(pe)?;
        root.present().map_err(pe)?;
    }
    write_svg(path, buf, "")
}
