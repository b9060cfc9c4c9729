//! SVG plots: valid XML, axis labels, one mark per spike, bounded size.

mod common;

use seqlearn_nest::analysis::plot::raster::{draw_raster, Raster, RasterMode};
use seqlearn_nest::analysis::plot::render_plots;
use seqlearn_nest::rundir::{ProtocolPhase, Spikes};
use std::path::Path;

/// A tiny run: 2 circuits (K = 2, 3), 5 neurons, 4 inputs, 1 s.
fn tiny_run(dir: &Path) {
    let w = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    w(
        "circuits.csv",
        "circuit,x,y,k,first_neuron,trained\n0,0,0,2,0,true\n1,1,0,3,2,true\n",
    );
    w(
        "protocol.csv",
        "phase,name,role,start_ms,end_ms,train,reset\n0,train,train,0,600,true,false\n1,test,test,600,1000,false,true\n",
    );
    w(
        "phases.csv",
        "phase,start_ms,end_ms,kind,sequence,pattern,warp,train\n0,0,300,noise,,,1,true\n0,300,600,pattern,0,0,1,true\n1,600,700,noise,,,1,false\n1,700,1000,pattern,0,0,1,false\n",
    );
    // 7 network spikes: neuron k at time 100 + 120 k (k = 0..4), plus two more
    w(
        "spikes.csv",
        "sender,time_ms\n0,100\n1,220\n2,340\n3,460\n4,580\n0,710\n4,990\n",
    );
    w(
        "input_spikes.csv",
        "channel,time_ms\n0,10\n3,20\n1,400\n2,401\n0,800\n",
    );
}

fn svg_doc(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{} is not valid XML: {e}", path.display()));
    text
}

fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect()
}

/// (x, y) of the start of each mark in the `spikes` path.
fn marks(svg: &str) -> Vec<(f64, f64)> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    let Some(p) = doc
        .descendants()
        .find(|n| n.has_tag_name("path") && n.attribute("class") == Some("spikes"))
    else {
        return Vec::new();
    };
    p.attribute("d")
        .unwrap()
        .split('M')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let xy = s.split('v').next().unwrap();
            let mut it = xy.split(' ');
            (
                it.next().unwrap().parse().unwrap(),
                it.next().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn tiny_run_plots_are_valid_svg_with_labels_and_one_mark_per_spike() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    tiny_run(dir);
    let files = render_plots(dir, None).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for f in [
        "grid_heatmap.svg",
        "grid_bars3d.svg",
        "input_raster_all.svg",
        "network_raster_all.svg",
        "network_raster_ordered_all.svg",
    ] {
        assert!(names.contains(&f.to_string()), "{f} missing from {names:?}");
    }
    for f in &files {
        svg_doc(f);
    }

    let net = svg_doc(&dir.join("plots/network_raster_all.svg"));
    let t = texts(&net);
    assert!(t.iter().any(|s| s == "time (ms)"), "{t:?}");
    assert!(t.iter().any(|s| s.starts_with("neuron")), "{t:?}");
    let m = marks(&net);
    assert_eq!(m.len(), 7, "one mark per network spike");
    // neuron k spiked at 100 + 120 k: x grows with time, y shrinks with the id
    for k in 0..4 {
        assert!(m[k + 1].0 > m[k].0 + 20.0, "{m:?}");
        assert!(m[k + 1].1 < m[k].1, "{m:?}");
    }
    // phases labelled
    assert!(t.iter().any(|s| s == "s0:p0"), "{t:?}");
    assert!(t.iter().any(|s| s.contains("test")), "{t:?}");

    let inp = svg_doc(&dir.join("plots/input_raster_all.svg"));
    assert_eq!(marks(&inp).len(), 5);
    assert!(texts(&inp).iter().any(|s| s == "input channel"));

    let ord = svg_doc(&dir.join("plots/network_raster_ordered_all.svg"));
    assert_eq!(marks(&ord).len(), 7);
    assert!(texts(&ord).iter().any(|s| s.contains("rank")));

    let grid = svg_doc(&dir.join("plots/grid_heatmap.svg"));
    let t = texts(&grid);
    assert!(
        t.iter().any(|s| s == "2") && t.iter().any(|s| s == "3"),
        "{t:?}"
    );
    assert!(t.iter().any(|s| s == "grid x") && t.iter().any(|s| s == "grid y"));

    // an explicit window restricts the marks
    let files = render_plots(dir, Some((0.0, 400.0))).unwrap();
    assert!(files
        .iter()
        .any(|p| p.ends_with("network_raster_window.svg")));
    let net = svg_doc(&dir.join("plots/network_raster_window.svg"));
    assert_eq!(marks(&net).len(), 3);
    assert!(render_plots(dir, Some((5.0, 5.0))).is_err());
}

#[test]
fn synthetic_run_renders_every_plot() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::write_run(dir, &common::Spec::default());
    seqlearn_nest::analysis::analyse_run(dir, &Default::default()).unwrap();
    let files = render_plots(dir, None).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for f in [
        "input_raster_start.svg",
        "input_raster_end.svg",
        "network_raster_ordered_end.svg",
        "synapse_weights.svg",
        "synapse_epsp.svg",
        "weight_histograms.svg",
        "readout.svg",
        "assemblies.svg",
    ] {
        assert!(names.contains(&f.to_string()), "{f} missing from {names:?}");
    }
    for f in &files {
        let svg = svg_doc(f);
        assert!(
            svg.len() < 3_000_000,
            "{} is {} bytes",
            f.display(),
            svg.len()
        );
    }
    let ro = svg_doc(&dir.join("plots/readout.svg"));
    let t = texts(&ro);
    assert!(t.iter().any(|s| s == "readout output") && t.iter().any(|s| s == "time (ms)"));
    // assemblies: one dot per neuron with a phase and a locking (40 planted, all up)
    let a = svg_doc(&dir.join("plots/assemblies.svg"));
    let doc = roxmltree::Document::parse(&a).unwrap();
    let dots = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle") && n.attribute("r") == Some("2"))
        .count();
    assert_eq!(dots, 40);
    let w = svg_doc(&dir.join("plots/synapse_weights.svg"));
    assert!(texts(&w).iter().any(|s| s == "weight w"));
    // weights and EPSPs: one line per sampled synapse (3), each with its samples
    for f in ["synapse_weights.svg", "synapse_epsp.svg"] {
        let svg = svg_doc(&dir.join("plots").join(f));
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let lines: Vec<usize> = doc
            .descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .map(|n| {
                n.attribute("points")
                    .unwrap_or("")
                    .split_whitespace()
                    .count()
            })
            .filter(|&k| k > 2)
            .collect();
        assert_eq!(lines.len(), 3, "{f}: {lines:?}");
        assert!(lines.iter().all(|&k| k >= 50), "{f}: {lines:?}");
    }
}

#[test]
fn large_rasters_switch_to_a_bounded_density_image() {
    let tmp = tempfile::tempdir().unwrap();
    // 10 000 neurons, 2 s, ~300 000 spikes
    let mut rng = common::Lcg::new(5);
    let mut sp = Spikes::default();
    for t in 0..2000 {
        for _ in 0..150 {
            sp.id.push((rng.next_f64() * 10_000.0) as u32);
            sp.time_ms.push(t as f64);
        }
    }
    let protocol: Vec<ProtocolPhase> = Vec::new();
    let path = tmp.path().join("big.svg");
    let mode = draw_raster(
        &path,
        &Raster {
            title: "big".into(),
            y_desc: "neuron".into(),
            n_rows: 10_000,
            row_of: &|k| Some(k as usize),
            spikes: &sp,
            t0: 0.0,
            t1: 2000.0,
            segments: &[],
            protocol: &protocol,
            max_marks: seqlearn_nest::analysis::plot::MAX_MARKS,
            separators: Vec::new(),
        },
    )
    .unwrap();
    assert_eq!(mode, RasterMode::Density(300_000));
    let svg = svg_doc(&path);
    assert!(svg.len() < 600_000, "{} bytes", svg.len());
    assert!(marks(&svg).is_empty());
    // the density image is a valid PNG with ink where the spikes are
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let img = doc
        .descendants()
        .find(|n| n.has_tag_name("image") && n.attribute("class") == Some("density"))
        .expect("density image");
    let href = img.attribute("href").unwrap();
    let b64 = href.strip_prefix("data:image/png;base64,").unwrap();
    let bytes = base64_decode(b64);
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::GrayscaleAlpha);
    assert!(info.width > 200 && info.height > 100, "{info:?}");
    let alpha: Vec<u8> = buf[..info.buffer_size()].chunks(2).map(|p| p[1]).collect();
    // uniform random spikes: nearly every bin has some
    let inked = alpha.iter().filter(|&&a| a > 0).count() as f64 / alpha.len() as f64;
    assert!(inked > 0.8, "{inked}");
    // and below the limit every spike is a mark
    let mode = draw_raster(
        &path,
        &Raster {
            title: "small".into(),
            y_desc: "neuron".into(),
            n_rows: 10_000,
            row_of: &|k| Some(k as usize),
            spikes: &sp,
            t0: 0.0,
            t1: 100.0,
            segments: &[],
            protocol: &protocol,
            max_marks: seqlearn_nest::analysis::plot::MAX_MARKS,
            separators: Vec::new(),
        },
    )
    .unwrap();
    assert_eq!(mode, RasterMode::Marks(15_000));
    assert_eq!(marks(&svg_doc(&path)).len(), 15_000);
}

#[test]
fn malformed_plot_input_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    tiny_run(dir);
    std::fs::write(dir.join("synapses.csv"), "synapse,source,target\n0,1,2\n").unwrap();
    let e = format!("{:#}", render_plots(dir, None).unwrap_err());
    assert!(e.contains("synapses.csv") && e.contains("kind"), "{e}");
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("bad base64 {c}"),
        }
    };
    let mut out = Vec::new();
    for q in s.as_bytes().chunks(4) {
        let pad = q.iter().filter(|&&c| c == b'=').count();
        let n = q
            .iter()
            .map(|&c| if c == b'=' { 0 } else { val(c) })
            .fold(0u32, |a, v| (a << 6) | v);
        let b = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&b[..3 - pad]);
    }
    out
}

#[test]
fn readout_plot_shows_the_test_after_the_last_fit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    common::write_run(
        dir,
        &common::Spec {
            pre_training_readout: true,
            train_ms: 4000.0,
            ..common::Spec::default()
        },
    );
    seqlearn_nest::analysis::analyse_run(dir, &Default::default()).unwrap();
    let files = render_plots(dir, None).unwrap();
    let ro = files.iter().find(|p| p.ends_with("readout.svg")).unwrap();
    let t = texts(&svg_doc(ro));
    // protocol: readout_fit 0, test 1, train 2, readout_fit 3, test 4, test 5
    assert!(t.iter().any(|s| s.ends_with("test phase 4")), "{t:?}");
}
