//! Reading a run directory (docs/formats.md) for the analyses and plots.
//!
//! Every reader locates its columns by header name, so extra columns and a
//! different column order are accepted; a missing file, a missing column or
//! an unparsable cell is an error that names the file, the line and the
//! column.

use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

/// An open CSV file with its header resolved.
pub struct CsvFile {
    pub path: PathBuf,
    pub headers: Vec<String>,
    reader: csv::Reader<File>,
}

impl CsvFile {
    /// Opens `dir/name`; the error names the file.
    pub fn open(dir: &Path, name: &str) -> Result<Self> {
        let path = dir.join(name);
        let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .from_reader(file);
        let headers = reader
            .headers()
            .with_context(|| format!("{}: cannot read the header row", path.display()))?
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>();
        if headers.iter().all(|h| h.is_empty()) {
            bail!("{}: empty file or empty header row", path.display());
        }
        Ok(Self {
            path,
            headers,
            reader,
        })
    }

    /// Index of column `name`; the error lists the header found.
    pub fn col(&self, name: &str) -> Result<usize> {
        self.headers.iter().position(|h| h == name).ok_or_else(|| {
            anyhow!(
                "{}: missing column `{}` (header is `{}`; see docs/formats.md)",
                self.path.display(),
                name,
                self.headers.join(",")
            )
        })
    }

    /// Indices of several columns at once.
    pub fn cols<const N: usize>(&self, names: [&str; N]) -> Result<[usize; N]> {
        let mut out = [0usize; N];
        for (o, n) in out.iter_mut().zip(names) {
            *o = self.col(n)?;
        }
        Ok(out)
    }

    pub fn has_col(&self, name: &str) -> bool {
        self.headers.iter().any(|h| h == name)
    }

    /// Calls `f(row, line)` for every data row (line = 1-based line number in the file).
    pub fn for_each<F>(&mut self, mut f: F) -> Result<()>
    where
        F: FnMut(&Row<'_>) -> Result<()>,
    {
        let mut rec = csv::StringRecord::new();
        let path = self.path.clone();
        let mut line = 1usize;
        loop {
            let more = self.reader.read_record(&mut rec).with_context(|| {
                format!("{}: malformed CSV after line {}", path.display(), line)
            })?;
            if !more {
                break;
            }
            line += 1;
            let row = Row {
                rec: &rec,
                path: &path,
                line,
                headers: &self.headers,
            };
            f(&row)?;
        }
        Ok(())
    }
}

/// One data row with typed accessors whose errors name file, line and column.
pub struct Row<'a> {
    rec: &'a csv::StringRecord,
    path: &'a Path,
    pub line: usize,
    headers: &'a [String],
}

impl Row<'_> {
    pub fn str(&self, i: usize) -> Result<&str> {
        self.rec.get(i).ok_or_else(|| {
            anyhow!(
                "{}:{}: row has {} fields, expected column `{}`",
                self.path.display(),
                self.line,
                self.rec.len(),
                self.headers.get(i).map(String::as_str).unwrap_or("?")
            )
        })
    }

    fn bad(&self, i: usize, what: &str) -> anyhow::Error {
        anyhow!(
            "{}:{}: column `{}`: cannot parse {:?} as {}",
            self.path.display(),
            self.line,
            self.headers.get(i).map(String::as_str).unwrap_or("?"),
            self.rec.get(i).unwrap_or(""),
            what
        )
    }

    pub fn f64(&self, i: usize) -> Result<f64> {
        let s = self.str(i)?;
        s.parse::<f64>().map_err(|_| self.bad(i, "a number"))
    }

    pub fn opt_f64(&self, i: usize) -> Result<Option<f64>> {
        let s = self.str(i)?;
        if s.is_empty() {
            return Ok(None);
        }
        s.parse::<f64>()
            .map(Some)
            .map_err(|_| self.bad(i, "a number"))
    }

    pub fn usize(&self, i: usize) -> Result<usize> {
        let s = self.str(i)?;
        s.parse::<usize>()
            .map_err(|_| self.bad(i, "a non-negative integer"))
    }

    pub fn opt_usize(&self, i: usize) -> Result<Option<usize>> {
        let s = self.str(i)?;
        if s.is_empty() {
            return Ok(None);
        }
        s.parse::<usize>()
            .map(Some)
            .map_err(|_| self.bad(i, "a non-negative integer"))
    }

    pub fn bool(&self, i: usize) -> Result<bool> {
        match self.str(i)?.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" | "" => Ok(false),
            _ => Err(self.bad(i, "true/false")),
        }
    }
}

/// One row of protocol.csv.
#[derive(Clone, Debug, PartialEq)]
pub struct ProtocolPhase {
    pub phase: usize,
    pub name: String,
    pub role: String,
    pub start_ms: f64,
    pub end_ms: f64,
    pub train: bool,
    pub reset: bool,
}

/// Kind of an input segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegKind {
    Noise,
    Pattern,
}

/// One row of phases.csv.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub phase: usize,
    pub start_ms: f64,
    pub end_ms: f64,
    pub kind: SegKind,
    pub sequence: Option<usize>,
    pub pattern: Option<usize>,
    pub warp: f64,
    pub train: bool,
}

/// One row of circuits.csv.
#[derive(Clone, Debug, PartialEq)]
pub struct Circuit {
    pub circuit: usize,
    pub x: usize,
    pub y: usize,
    pub k: usize,
    pub first_neuron: usize,
}

/// A spike table: parallel arrays sorted by time.
#[derive(Clone, Debug, Default)]
pub struct Spikes {
    pub id: Vec<u32>,
    pub time_ms: Vec<f64>,
}

impl Spikes {
    pub fn len(&self) -> usize {
        self.id.len()
    }
    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }
    /// Index range of the spikes with `t0 <= time < t1` (the table is sorted by time).
    pub fn range(&self, t0: f64, t1: f64) -> std::ops::Range<usize> {
        let a = self.time_ms.partition_point(|&t| t < t0);
        let b = self.time_ms.partition_point(|&t| t < t1);
        a..b.max(a)
    }
    pub fn max_id(&self) -> Option<u32> {
        self.id.iter().copied().max()
    }
}

pub fn read_protocol(dir: &Path) -> Result<Vec<ProtocolPhase>> {
    let mut f = CsvFile::open(dir, "protocol.csv")?;
    let [ph, name, role, s, e, tr, rs] = f.cols([
        "phase", "name", "role", "start_ms", "end_ms", "train", "reset",
    ])?;
    let mut out = Vec::new();
    f.for_each(|r| {
        out.push(ProtocolPhase {
            phase: r.usize(ph)?,
            name: r.str(name)?.to_string(),
            role: r.str(role)?.to_string(),
            start_ms: r.f64(s)?,
            end_ms: r.f64(e)?,
            train: r.bool(tr)?,
            reset: r.bool(rs)?,
        });
        Ok(())
    })?;
    out.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    Ok(out)
}

pub fn read_phases(dir: &Path) -> Result<Vec<Segment>> {
    let mut f = CsvFile::open(dir, "phases.csv")?;
    let [ph, s, e, kind, seq, pat] =
        f.cols(["phase", "start_ms", "end_ms", "kind", "sequence", "pattern"])?;
    let warp = if f.has_col("warp") {
        Some(f.col("warp")?)
    } else {
        None
    };
    let train = if f.has_col("train") {
        Some(f.col("train")?)
    } else {
        None
    };
    let path = f.path.clone();
    let mut out = Vec::new();
    f.for_each(|r| {
        let k = match r.str(kind)? {
            "noise" => SegKind::Noise,
            "pattern" => SegKind::Pattern,
            other => bail!(
                "{}:{}: column `kind`: expected `noise` or `pattern`, found {:?}",
                path.display(),
                r.line,
                other
            ),
        };
        let sequence = r.opt_usize(seq)?;
        if k == SegKind::Pattern && sequence.is_none() {
            bail!(
                "{}:{}: pattern segment without a `sequence` id",
                path.display(),
                r.line
            );
        }
        out.push(Segment {
            phase: r.usize(ph)?,
            start_ms: r.f64(s)?,
            end_ms: r.f64(e)?,
            kind: k,
            sequence: if k == SegKind::Pattern {
                sequence
            } else {
                None
            },
            pattern: r.opt_usize(pat)?,
            warp: match warp {
                Some(w) => r.opt_f64(w)?.unwrap_or(1.0),
                None => 1.0,
            },
            train: match train {
                Some(t) => r.bool(t)?,
                None => false,
            },
        });
        Ok(())
    })?;
    out.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
    Ok(out)
}

pub fn read_circuits(dir: &Path) -> Result<Vec<Circuit>> {
    let mut f = CsvFile::open(dir, "circuits.csv")?;
    let [c, x, y, k, fnr] = f.cols(["circuit", "x", "y", "k", "first_neuron"])?;
    let mut out = Vec::new();
    f.for_each(|r| {
        out.push(Circuit {
            circuit: r.usize(c)?,
            x: r.usize(x)?,
            y: r.usize(y)?,
            k: r.usize(k)?,
            first_neuron: r.usize(fnr)?,
        });
        Ok(())
    })?;
    out.sort_by_key(|c| c.circuit);
    Ok(out)
}

/// Reads a spike table with columns `id_col,time_ms`; sorts it by time if it is not.
pub fn read_spikes(dir: &Path, name: &str, id_col: &str) -> Result<Spikes> {
    let mut f = CsvFile::open(dir, name)?;
    let [i, t] = f.cols([id_col, "time_ms"])?;
    let mut sp = Spikes::default();
    f.for_each(|r| {
        let id = r.usize(i)?;
        sp.id.push(
            u32::try_from(id).map_err(|_| anyhow!("{}:{}: id {} too large", name, r.line, id))?,
        );
        sp.time_ms.push(r.f64(t)?);
        Ok(())
    })?;
    if sp.time_ms.windows(2).any(|w| w[1] < w[0]) {
        let mut idx: Vec<usize> = (0..sp.len()).collect();
        idx.sort_by(|&a, &b| {
            sp.time_ms[a]
                .total_cmp(&sp.time_ms[b])
                .then(sp.id[a].cmp(&sp.id[b]))
        });
        sp = Spikes {
            id: idx.iter().map(|&k| sp.id[k]).collect(),
            time_ms: idx.iter().map(|&k| sp.time_ms[k]).collect(),
        };
    }
    Ok(sp)
}

/// `neuron -> circuit` from neurons.csv.
pub fn read_neuron_circuits(dir: &Path) -> Result<Vec<usize>> {
    let mut f = CsvFile::open(dir, "neurons.csv")?;
    let [n, c] = f.cols(["neuron", "circuit"])?;
    let mut pairs = Vec::new();
    f.for_each(|r| {
        pairs.push((r.usize(n)?, r.usize(c)?));
        Ok(())
    })?;
    let len = pairs.iter().map(|p| p.0 + 1).max().unwrap_or(0);
    let mut out = vec![usize::MAX; len];
    for (n, c) in pairs {
        out[n] = c;
    }
    Ok(out)
}

/// Samples of `neuron_traces.csv` inside the given windows (`t0 <= time_ms < t1`).
pub struct RhoSamples {
    pub time_ms: Vec<f64>,
    pub sender: Vec<u32>,
    pub rho: Vec<f64>,
    /// Every sender with at least one sample inside a window.
    pub window_senders: BTreeSet<u32>,
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

/// [`read_rho_window`] with the size above which the file is entered by seeking.
pub fn read_rho_window_seeking(
    dir: &Path,
    windows: &[(f64, f64)],
    seek_above_bytes: u64,
) -> Result<RhoSamples> {
    use std::io::{BufRead, BufReader, Seek, SeekFrom};
    let head = CsvFile::open(dir, "neuron_traces.csv")?;
    let [t, s, rho] = head.cols(["time_ms", "sender", "rho"])?;
    let path = head.path.clone();
    let ncols = head.headers.len();
    drop(head);
    let mut out = RhoSamples {
        time_ms: Vec::new(),
        sender: Vec::new(),
        rho: Vec::new(),
        window_senders: BTreeSet::new(),
    };
    if windows.is_empty() {
        return Ok(out);
    }
    let first = windows.iter().map(|w| w.0).fold(f64::INFINITY, f64::min);
    let last = windows
        .iter()
        .map(|w| w.1)
        .fold(f64::NEG_INFINITY, f64::max);
    let open = || File::open(&path).with_context(|| format!("cannot open {}", path.display()));
    let size = std::fs::metadata(&path)?.len();
    // time of the first complete line at or after byte `off`
    let time_at = |off: u64| -> Result<Option<f64>> {
        let mut r = BufReader::new(open()?);
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
            .nth(t)
            .and_then(|v| v.trim().parse().ok()))
    };
    let mut start = 0u64;
    if size > seek_above_bytes {
        let (mut lo, mut hi) = (0u64, size);
        while hi - lo > 1 << 16 {
            let mid = lo + (hi - lo) / 2;
            match time_at(mid)? {
                Some(x) if x < first => lo = mid,
                _ => hi = mid,
            }
        }
        start = lo;
    }
    let mut reader = BufReader::new(open()?);
    let mut skipped = String::new();
    if start == 0 {
        reader.read_line(&mut skipped)?; // header
    } else {
        reader.seek(SeekFrom::Start(start))?;
        reader.read_line(&mut skipped)?; // partial line
    }
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(reader);
    let mut rec = csv::StringRecord::new();
    let mut prev = f64::NEG_INFINITY;
    let mut sorted = true;
    let mut row = 0usize;
    let where_ = |row: usize| {
        if start == 0 {
            format!("{}:{}", path.display(), row + 1)
        } else {
            format!("{} (row {} after byte {start})", path.display(), row)
        }
    };
    while csv
        .read_record(&mut rec)
        .with_context(|| format!("{}: malformed CSV", where_(row + 1)))?
    {
        row += 1;
        if rec.len() < ncols {
            bail!("{}: {} fields, expected {}", where_(row), rec.len(), ncols);
        }
        let field = |i: usize, what: &str| -> Result<f64> {
            rec[i].parse::<f64>().map_err(|_| {
                anyhow!(
                    "{}: column `{what}`: cannot parse {:?} as a number",
                    where_(row),
                    &rec[i]
                )
            })
        };
        let time = field(t, "time_ms")?;
        if time < prev {
            sorted = false;
        }
        prev = time;
        if sorted && time >= last {
            break;
        }
        if windows.iter().any(|&(a, b)| time >= a && time < b) {
            let sender = field(s, "sender")?;
            if sender < 0.0 || sender.fract() != 0.0 {
                bail!("{}: column `sender`: {sender} is not an id", where_(row));
            }
            out.time_ms.push(time);
            out.sender.push(sender as u32);
            out.window_senders.insert(sender as u32);
            out.rho.push(field(rho, "rho")?);
        }
    }
    if !sorted && start > 0 {
        // entered by seeking but not in time order: read it all
        out = RhoSamples {
            time_ms: Vec::new(),
            sender: Vec::new(),
            rho: Vec::new(),
            window_senders: BTreeSet::new(),
        };
        let mut f = CsvFile::open(dir, "neuron_traces.csv")?;
        f.for_each(|r| {
            let time = r.f64(t)?;
            if windows.iter().any(|&(a, b)| time >= a && time < b) {
                let sender = r.usize(s)? as u32;
                out.time_ms.push(time);
                out.sender.push(sender);
                out.window_senders.insert(sender);
                out.rho.push(r.f64(rho)?);
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// `summary.json` if present (parsed), else `None`.
pub fn read_summary(dir: &Path) -> Result<Option<serde_json::Value>> {
    let path = dir.join("summary.json");
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: invalid JSON", path.display()))?;
    Ok(Some(v))
}

/// Finds the first number stored under one of `keys` anywhere in `v`
/// (depth-first, objects in key order); returns the value and the JSON path.
pub fn find_number(v: &serde_json::Value, keys: &[&str]) -> Option<(f64, String)> {
    fn rec(v: &serde_json::Value, keys: &[&str], path: &str) -> Option<(f64, String)> {
        match v {
            serde_json::Value::Object(m) => {
                for k in keys {
                    if let Some(x) = m.get(*k).and_then(|x| x.as_f64()) {
                        return Some((x, format!("{path}.{k}")));
                    }
                }
                for (k, child) in m {
                    if let Some(r) = rec(child, keys, &format!("{path}.{k}")) {
                        return Some(r);
                    }
                }
                None
            }
            _ => None,
        }
    }
    rec(v, keys, "")
}

/// Run-level constants used by the analyses, with where each came from.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RunConstants {
    pub dt_ms: f64,
    pub dt_from: String,
    pub tau_decay_ms: f64,
    pub tau_decay_from: String,
}

/// Reads `dt` and `tau_decay` from `summary.json`'s `config` (keys `dt_ms` /
/// `dt` and `tau_decay_ms` / `tau_decay`, searched anywhere inside `config`);
/// falls back to 1 ms / 20 ms (model.md §2).
pub fn run_constants(summary: Option<&serde_json::Value>) -> RunConstants {
    let config = summary.and_then(|s| s.get("config"));
    let dt = config.and_then(|c| find_number(c, &["dt_ms", "dt"]));
    let tau = config.and_then(|c| find_number(c, &["tau_decay_ms", "tau_decay"]));
    let ok =
        |x: &Option<(f64, String)>| x.as_ref().map(|v| v.0.is_finite() && v.0 > 0.0) == Some(true);
    let (dt_ms, dt_from) = if ok(&dt) {
        let d = dt.unwrap();
        (d.0, format!("summary.json config{}", d.1))
    } else {
        (
            1.0,
            "default (not found in summary.json config)".to_string(),
        )
    };
    let (tau_decay_ms, tau_decay_from) = if ok(&tau) {
        let d = tau.unwrap();
        (d.0, format!("summary.json config{}", d.1))
    } else {
        (
            20.0,
            "default (not found in summary.json config)".to_string(),
        )
    };
    RunConstants {
        dt_ms,
        dt_from,
        tau_decay_ms,
        tau_decay_from,
    }
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
