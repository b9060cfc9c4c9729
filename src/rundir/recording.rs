//! The sampled recordings: neuron_traces.csv and synapse_traces.csv.
//! neuron_traces.csv can be many GB; [`read_rho_window`] streams it and
//! enters a large file by a binary search on `time_ms`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::fmt_f64;
use super::schema::{NEURON_TRACES, SYNAPSE_TRACES};
use super::table::{Reader, Writer};
use crate::model::network::Network;
use crate::model::record::{RecordPlan, Recording};
use crate::usage;

/// Writes the sampled traces.
pub fn write_recording(
    dir: &Path,
    net: &Network,
    plan: &RecordPlan,
    rec: &Recording,
    dt: f64,
) -> Result<()> {
    let mut t = Writer::create(dir, &NEURON_TRACES)?;
    let nn = plan.neurons.len();
    for (i, &step) in rec.neuron_steps.iter().enumerate() {
        let time = fmt_f64(step as f64 * dt);
        for (j, &k) in plan.neurons.iter().enumerate() {
            t.row([
                time.clone(),
                k.to_string(),
                fmt_f64(rec.u[i * nn + j]),
                fmt_f64(rec.rho[i * nn + j]),
            ])?;
        }
    }
    t.finish()?;
    let mut t = Writer::create(dir, &SYNAPSE_TRACES)?;
    let ns = plan.synapses.len();
    for (i, &step) in rec.synapse_steps.iter().enumerate() {
        let time = fmt_f64(step as f64 * dt);
        for (j, &s) in plan.synapses.iter().enumerate() {
            let syn = &net.synapses[s];
            t.row([
                time.clone(),
                s.to_string(),
                syn.source.to_string(),
                syn.target.to_string(),
                fmt_f64(rec.weight[i * ns + j]),
                fmt_f64(rec.epsp[i * ns + j]),
            ])?;
        }
    }
    t.finish()
}

/// Samples of `neuron_traces.csv` inside the given windows (`t0 <= time_ms < t1`).
#[derive(Debug, Default)]
pub struct RhoSamples {
    pub time_ms: Vec<f64>,
    pub sender: Vec<u32>,
    pub rho: Vec<f64>,
    /// Every sender with at least one sample inside a window.
    pub window_senders: BTreeSet<u32>,
}

impl RhoSamples {
    fn push(&mut self, time: f64, sender: u32, rho: f64) {
        self.time_ms.push(time);
        self.sender.push(sender);
        self.window_senders.insert(sender);
        self.rho.push(rho);
    }
}

/// Files larger than this are entered by binary search on `time_ms`.
const SEEK_ABOVE_BYTES: u64 = 64 << 20;

/// Reads the samples of `neuron_traces.csv` inside `windows`, streamed (the
/// file can be many GB). The file is written in time order; reading stops
/// after the last window, and a file above 64 MiB is entered by a binary
/// search on `time_ms` near the first window instead of being read from the
/// top. (If the rows turn out not to be in time order, the whole file is
/// read.)
pub fn read_rho_window(dir: &Path, windows: &[(f64, f64)]) -> Result<RhoSamples> {
    read_rho_window_seeking(dir, windows, SEEK_ABOVE_BYTES)
}

/// Where the columns of neuron_traces.csv are, from its header.
struct TraceFile {
    path: PathBuf,
    time: usize,
    sender: usize,
    rho: usize,
    width: usize,
}

/// Time of the first complete line at or after byte `off`.
fn time_at(f: &TraceFile, off: u64) -> Result<Option<f64>> {
    let mut r = BufReader::new(crate::error::open_regular(&f.path)?);
    r.seek(SeekFrom::Start(off))?;
    let mut line = String::new();
    r.read_line(&mut line)?; // partial line
    line.clear();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(line
        .trim()
        .split(',')
        .nth(f.time)
        .and_then(|v| v.trim().parse().ok()))
}

/// Byte offset to start reading at: 0, or for a large file a line shortly
/// before the first sample at `first` ms (binary search to within 64 KiB).
fn start_offset(f: &TraceFile, first: f64, seek_above_bytes: u64) -> Result<u64> {
    let size = std::fs::metadata(&f.path)?.len();
    if size <= seek_above_bytes {
        return Ok(0);
    }
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 << 16 {
        let mid = lo + (hi - lo) / 2;
        match time_at(f, mid)? {
            Some(x) if x < first => lo = mid,
            _ => hi = mid,
        }
    }
    Ok(lo)
}

/// Reads the rows from byte `start` on (skipping the header or the partial
/// line there), with `stop_early` until the last window ends while the rows
/// are in time order. Returns the samples and whether the rows read were in
/// time order.
fn scan_from(
    f: &TraceFile,
    start: u64,
    windows: &[(f64, f64)],
    stop_early: bool,
) -> Result<(RhoSamples, bool)> {
    let last = windows
        .iter()
        .map(|w| w.1)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut reader = BufReader::new(
        crate::error::open_regular(&f.path)
            .with_context(|| format!("cannot open {}", f.path.display()))?,
    );
    reader.seek(SeekFrom::Start(start))?;
    reader.read_line(&mut String::new())?; // header, or the partial line at `start`
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(reader);
    let where_ = |row: usize| {
        if start == 0 {
            format!("{}:{}", f.path.display(), row + 1)
        } else {
            format!("{} (row {row} after byte {start})", f.path.display())
        }
    };
    let (mut out, mut rec) = (RhoSamples::default(), csv::StringRecord::new());
    let (mut prev, mut sorted, mut row) = (f64::NEG_INFINITY, true, 0usize);
    while csv
        .read_record(&mut rec)
        .map_err(|e| usage!("{}: malformed CSV: {e}", where_(row + 1)))?
    {
        row += 1;
        if rec.len() < f.width {
            return Err(usage!(
                "{}: {} fields, expected {}",
                where_(row),
                rec.len(),
                f.width
            ));
        }
        let field = |i: usize, what: &str| -> Result<f64> {
            rec[i].parse::<f64>().map_err(|_| {
                usage!(
                    "{}: column `{what}`: cannot parse {:?} as a number",
                    where_(row),
                    &rec[i]
                )
            })
        };
        let time = field(f.time, "time_ms")?;
        sorted &= time >= prev;
        prev = time;
        if stop_early && sorted && time >= last {
            break;
        }
        if windows.iter().any(|&(a, b)| time >= a && time < b) {
            let sender = field(f.sender, "sender")?;
            if sender < 0.0 || sender.fract() != 0.0 || sender > u32::MAX as f64 {
                return Err(usage!(
                    "{}: column `sender`: {sender} is not an id",
                    where_(row)
                ));
            }
            out.push(time, sender as u32, field(f.rho, "rho")?);
        }
    }
    Ok((out, sorted))
}

/// [`read_rho_window`] with the size above which the file is entered by seeking.
pub fn read_rho_window_seeking(
    dir: &Path,
    windows: &[(f64, f64)],
    seek_above_bytes: u64,
) -> Result<RhoSamples> {
    let head = Reader::open(dir, &NEURON_TRACES)?;
    let [time, sender, rho] = head.cols(["time_ms", "sender", "rho"]);
    let f = TraceFile {
        path: head.path.clone(),
        time,
        sender,
        rho,
        width: head.width(),
    };
    drop(head);
    if windows.is_empty() {
        return Ok(RhoSamples::default());
    }
    let first = windows.iter().map(|w| w.0).fold(f64::INFINITY, f64::min);
    let start = start_offset(&f, first, seek_above_bytes)?;
    let (out, sorted) = scan_from(&f, start, windows, true)?;
    if sorted || start == 0 {
        return Ok(out);
    }
    // entered by seeking but not in time order: read it all
    Ok(scan_from(&f, 0, windows, false)?.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    #[test]
    fn rho_window_by_seeking_equals_full_read() {
        let tmp = tempfile::tempdir().unwrap();
        let mut text = String::from("time_ms,sender,u,rho\n");
        for t in 0..20_000 {
            for k in 0..10 {
                let _ = writeln!(text, "{t},{k},0.5,{}", (t * 10 + k) as f64 * 1e-6);
            }
        }
        std::fs::write(tmp.path().join("neuron_traces.csv"), text).unwrap();
        let w = [(12_000.0, 12_300.0), (15_000.5, 15_010.0)];
        let full = read_rho_window_seeking(tmp.path(), &w, u64::MAX).unwrap();
        let seek = read_rho_window_seeking(tmp.path(), &w, 0).unwrap();
        assert_eq!(full.time_ms.len(), 3090);
        assert_eq!(full.time_ms, seek.time_ms);
        assert_eq!(full.sender, seek.sender);
        assert_eq!(full.rho, seek.rho);
        assert_eq!(seek.window_senders.len(), 10);
        assert_eq!(seek.time_ms[0], 12_000.0);
    }
}
