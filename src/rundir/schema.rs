//! The column definitions of every CSV file of a run directory: one place
//! for the writers, the readers (replay and analysis), `docs/formats.md`
//! (its tables are generated from here, see [`markdown`]) and the
//! machine-readable export `docs/formats.schema.json` (see [`to_json`]).
//!
//! Reading rule, applied by every reader ([`super::table::Reader`]):
//! columns are found by header name, so their order is free and extra
//! columns are ignored; every column listed here must be present; a cell
//! may be empty only where the column is nullable.

use serde_json::{json, Value};

/// Value type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// Non-negative integer (ids, counts, indices).
    UInt,
    /// Floating-point number, `.` decimal, shortest round-trip form.
    Float,
    /// `true` or `false`.
    Bool,
    /// Free text without commas.
    Str,
    /// One of the listed words.
    Enum(&'static [&'static str]),
}

impl Type {
    /// The name used in docs/formats.md and the JSON export.
    pub fn name(self) -> &'static str {
        match self {
            Type::UInt => "uint",
            Type::Float => "float",
            Type::Bool => "bool",
            Type::Str => "str",
            Type::Enum(_) => "enum",
        }
    }
}

/// One column of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: Type,
    /// Physical unit (`ms`, `Hz`); `1` for dimensionless numbers; `None`
    /// for ids, labels and flags.
    pub unit: Option<&'static str>,
    /// An empty cell is allowed (it means "not applicable").
    pub nullable: bool,
    pub description: &'static str,
}

/// Which layer writes a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Written by `simulate` and `grid`; read back by `--replay`.
    Network,
    /// Input and activity, written by `simulate`; read by `--replay` (input) and the analysis.
    Activity,
    /// Sampled recordings, written by `simulate`.
    Recording,
    /// Written by the analysis layer.
    Analysis,
}

impl Section {
    pub const ALL: [Section; 4] = [
        Section::Network,
        Section::Activity,
        Section::Recording,
        Section::Analysis,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Section::Network => "network",
            Section::Activity => "activity",
            Section::Recording => "recording",
            Section::Analysis => "analysis",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Section::Network => {
                "Network files (written by `simulate` and `grid`; read by `--replay`)"
            }
            Section::Activity => {
                "Input and activity (written by `simulate`; the input files are read by `--replay`)"
            }
            Section::Recording => {
                "Recordings (sampled every `dt_rec_ms`, at steps `t` with `t % (dt_rec/dt) == 0`)"
            }
            Section::Analysis => {
                "Analysis files (written by the analysis layer; details in docs/analysis.md)"
            }
        }
    }
}

/// One CSV file of a run directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSchema {
    pub name: &'static str,
    pub section: Section,
    pub description: &'static str,
    pub columns: &'static [Column],
}

impl FileSchema {
    /// Column names in the order the writers write them.
    pub fn names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.name).collect()
    }

    /// The header row with its line end, as written.
    pub fn header_line(&self) -> String {
        let mut s = self.names().join(",");
        s.push('\n');
        s
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

const fn col(
    name: &'static str,
    ty: Type,
    unit: Option<&'static str>,
    nullable: bool,
    description: &'static str,
) -> Column {
    Column {
        name,
        ty,
        unit,
        nullable,
        description,
    }
}

/// An id or index column.
const fn id(name: &'static str, description: &'static str) -> Column {
    col(name, Type::UInt, None, false, description)
}

/// A time in ms.
const fn time(name: &'static str, description: &'static str) -> Column {
    col(name, Type::Float, Some("ms"), false, description)
}

/// A dimensionless number.
const fn number(name: &'static str, description: &'static str) -> Column {
    col(name, Type::Float, Some("1"), false, description)
}

/// A dimensionless number that may be empty.
const fn opt_number(name: &'static str, description: &'static str) -> Column {
    col(name, Type::Float, Some("1"), true, description)
}

/// Values of `sources.csv` `kind`.
pub const SOURCE_KINDS: &[&str] = &["input", "neuron"];
/// Values of `synapses.csv` `kind`.
pub const SYNAPSE_KINDS: &[&str] = &["input", "recurrent"];
/// Values of `phases.csv` `kind` (`model::input::SegmentKind`).
pub const SEGMENT_KINDS: &[&str] = &["noise", "pattern"];
/// Values of `protocol.csv` `role` (`model::config::PhaseRole`).
pub const PHASE_ROLES: &[&str] = &["train", "readout_fit", "test"];

pub const CIRCUITS: FileSchema = FileSchema {
    name: "circuits.csv",
    section: Section::Network,
    description: "One row per WTA circuit, in position-index order.",
    columns: &[
        id(
            "circuit",
            "position index `c = x*m + y` on the `n x m` grid",
        ),
        id("x", "grid row, `0..n`"),
        id("y", "grid column, `0..m`"),
        id("k", "number of neurons `K` of the circuit"),
        id(
            "first_neuron",
            "id of its first neuron; its neurons are `first_neuron..first_neuron+k`",
        ),
        col(
            "trained",
            Type::Bool,
            None,
            false,
            "whether it learns (`network.train_fraction`); an untrained circuit's weights \
             and biases never change",
        ),
    ],
};

pub const NEURONS: FileSchema = FileSchema {
    name: "neurons.csv",
    section: Section::Network,
    description: "One row per network neuron, by id.",
    columns: &[
        id("neuron", "neuron id"),
        id("circuit", "its circuit"),
        number(
            "bias_initial",
            "bias `b_k` at the start of the run (model.md §2 item 2); a replay starts from it",
        ),
        opt_number(
            "bias_final",
            "bias at the end of the run (empty when no run was made, e.g. `grid --out`)",
        ),
    ],
};

pub const SOURCES: FileSchema = FileSchema {
    name: "sources.csv",
    section: Section::Network,
    description: "One row per presynaptic source: the input channels, then the network \
                  neurons; the per-source STP draw (model.md §4).",
    columns: &[
        id("source", "source id"),
        col(
            "kind",
            Type::Enum(SOURCE_KINDS),
            None,
            false,
            "`input` for sources `0..n_inputs`, `neuron` after them",
        ),
        id("index", "input channel or neuron id"),
        number("U", "STP utilisation `U`"),
        time("D_ms", "STP depression time constant `D`"),
        time("F_ms", "STP facilitation time constant `F`"),
    ],
};

pub const CIRCUIT_PAIRS: FileSchema = FileSchema {
    name: "circuit_pairs.csv",
    section: Section::Network,
    description: "The marked recurrent circuit pairs, in marking order (model.md §1).",
    columns: &[
        id("pre_circuit", "presynaptic circuit"),
        id("post_circuit", "postsynaptic circuit"),
    ],
};

pub const SYNAPSES: FileSchema = FileSchema {
    name: "synapses.csv",
    section: Section::Network,
    description: "One row per synapse, grouped by target (ascending), inside a target by \
                  source (ascending). With `stp_draw = \"per_source\"` U, D, F equal the \
                  source's row of sources.csv; with `\"per_synapse\"` they are authoritative \
                  for recurrent synapses (input synapses still equal sources.csv). A replay \
                  rejects any other disagreement.",
    columns: &[
        id("synapse", "synapse id (row index)"),
        id("source", "source id (sources.csv)"),
        id("target", "target neuron id"),
        id(
            "slot",
            "position inside the target's group (the NEST module's receptor port)",
        ),
        col(
            "kind",
            Type::Enum(SYNAPSE_KINDS),
            None,
            false,
            "`input` for input sources, else `recurrent`",
        ),
        number("w_initial", "weight at the start of the run"),
        opt_number(
            "w_final",
            "weight at the end of the run (empty when no run was made)",
        ),
        number("U", "STP utilisation `U` of this synapse"),
        time("D_ms", "STP depression time constant `D` of this synapse"),
        time("F_ms", "STP facilitation time constant `F` of this synapse"),
    ],
};

pub const INPUT_SPIKES: FileSchema = FileSchema {
    name: "input_spikes.csv",
    section: Section::Activity,
    description: "Input spikes, sorted by time, then channel.",
    columns: &[
        id("channel", "input channel"),
        time("time_ms", "step start `t*dt` of the spike's step"),
    ],
};

pub const SPIKES: FileSchema = FileSchema {
    name: "spikes.csv",
    section: Section::Activity,
    description: "Network spikes, sorted by time, then sender. Also the format of \
                  `--forced-spikes` files.",
    columns: &[
        id("sender", "neuron id"),
        time("time_ms", "step start `t*dt` of the spike's step"),
    ],
};

pub const PHASES: FileSchema = FileSchema {
    name: "phases.csv",
    section: Section::Activity,
    description: "One row per input segment, in time order.",
    columns: &[
        id("phase", "protocol phase index (protocol.csv)"),
        time("start_ms", "segment start"),
        time("end_ms", "segment end (exclusive)"),
        col(
            "kind",
            Type::Enum(SEGMENT_KINDS),
            None,
            false,
            "`noise` or `pattern`",
        ),
        col(
            "sequence",
            Type::UInt,
            None,
            true,
            "sequence id of a pattern segment (empty for noise)",
        ),
        col(
            "pattern",
            Type::UInt,
            None,
            true,
            "pattern id of a pattern segment (empty for noise)",
        ),
        number("warp", "time-warp factor of the presentation"),
        col(
            "train",
            Type::Bool,
            None,
            false,
            "STDP on in its protocol phase",
        ),
    ],
};

pub const PROTOCOL: FileSchema = FileSchema {
    name: "protocol.csv",
    section: Section::Activity,
    description: "One row per protocol phase, in time order.",
    columns: &[
        id("phase", "phase index, `0..`"),
        col("name", Type::Str, None, false, "phase name from the config"),
        col(
            "role",
            Type::Enum(PHASE_ROLES),
            None,
            false,
            "what the phase is for in the analysis",
        ),
        time("start_ms", "phase start"),
        time("end_ms", "phase end (exclusive)"),
        col("train", Type::Bool, None, false, "STDP on"),
        col(
            "reset",
            Type::Bool,
            None,
            false,
            "traces and STP state were reset at its start",
        ),
    ],
};

pub const PATTERNS: FileSchema = FileSchema {
    name: "patterns.csv",
    section: Section::Activity,
    description: "The frozen patterns.",
    columns: &[
        id("pattern", "pattern id"),
        id("channel", "input channel"),
        time(
            "time_ms",
            "spike time relative to the pattern start, before warping",
        ),
    ],
};

pub const NEURON_TRACES: FileSchema = FileSchema {
    name: "neuron_traces.csv",
    section: Section::Recording,
    description: "Sampled neuron state, in time order (the analysis relies on it to \
                  seek in large files).",
    columns: &[
        time("time_ms", "step start of the sample"),
        id("sender", "neuron id"),
        number("u", "membrane potential `u_k` used in that step"),
        number(
            "rho",
            "rate fraction `rho_k = r_k / R_max` used in that step",
        ),
    ],
};

pub const SYNAPSE_TRACES: FileSchema = FileSchema {
    name: "synapse_traces.csv",
    section: Section::Recording,
    description: "Sampled synapse state, in time order.",
    columns: &[
        time("time_ms", "step start of the sample"),
        id("synapse", "synapse id"),
        id("source", "its source"),
        id("target", "its target"),
        number("weight", "weight `w` at the start of the step"),
        number(
            "epsp",
            "unweighted EPSP `Y` of the synapse's source (model.md §2 item 1)",
        ),
    ],
};

/// Values of `readout.csv` `protocol`.
pub const READOUT_PROTOCOLS: &[&str] = &["ridge_cv", "original_lstsq"];
/// Values of `readout.csv` `features`.
pub const READOUT_FEATURES: &[&str] = &["network", "input"];
/// Values of `readout.csv` `metric`.
pub const READOUT_METRICS: &[&str] = &[
    "r",
    "accuracy",
    "accuracy_chance",
    "n_samples",
    "lambda",
    "cv_folds",
    "n_features",
];
/// Values of `assemblies.csv` `scope`.
pub const ASSEMBLY_SCOPES: &[&str] = &["network", "circuit", "neuron"];

pub const READOUT: FileSchema = FileSchema {
    name: "readout.csv",
    section: Section::Analysis,
    description: "Tidy readout scores (docs/analysis.md, linear readouts).",
    columns: &[
        col(
            "protocol",
            Type::Enum(READOUT_PROTOCOLS),
            None,
            false,
            "readout protocol",
        ),
        col(
            "features",
            Type::Enum(READOUT_FEATURES),
            None,
            false,
            "network state or the input baseline",
        ),
        col(
            "phase",
            Type::Str,
            None,
            false,
            "a test phase index, `test` (pooled) or `fit` (in-sample); `test:<g>` / \
             `fit:<g>` with several readout_fit groups",
        ),
        col(
            "sequence",
            Type::Str,
            None,
            false,
            "target label (`0`, `0+1` for identical contents), `noise` or `all`",
        ),
        col(
            "metric",
            Type::Enum(READOUT_METRICS),
            None,
            false,
            "`lambda`, `cv_folds`, `n_features` only with phase `fit`",
        ),
        opt_number("value", "the score (empty when undefined)"),
    ],
};

pub const READOUT_OUTPUT: FileSchema = FileSchema {
    name: "readout_output.csv",
    section: Section::Analysis,
    description: "Every test sample of every readout.",
    columns: &[
        col(
            "protocol",
            Type::Enum(READOUT_PROTOCOLS),
            None,
            false,
            "readout protocol",
        ),
        col(
            "features",
            Type::Enum(READOUT_FEATURES),
            None,
            false,
            "network state or the input baseline",
        ),
        id("phase", "test phase index"),
        time("time_ms", "step start of the sample"),
        col(
            "sequence",
            Type::Str,
            None,
            false,
            "target label or `noise`",
        ),
        number("target", "target value, 0 or 1"),
        opt_number("output", "readout output (empty when undefined)"),
    ],
};

pub const ORDERING: FileSchema = FileSchema {
    name: "ordering.csv",
    section: Section::Analysis,
    description: "Neurons by mean activation phase in the last complete presentation of \
                  each target.",
    columns: &[
        col("sequence", Type::Str, None, false, "target label"),
        id("rank", "rank, `0..`"),
        id("neuron", "neuron id"),
        col(
            "phase_ms",
            Type::Float,
            Some("ms"),
            true,
            "activation phase within the presentation (empty: no activity)",
        ),
        number(
            "resultant_length",
            "mean resultant length of the activation",
        ),
    ],
};

pub const ASSEMBLIES: FileSchema = FileSchema {
    name: "assemblies.csv",
    section: Section::Analysis,
    description: "Assembly statistics; the metrics of each scope are listed in \
                  docs/analysis.md.",
    columns: &[
        col("sequence", Type::Str, None, false, "target label"),
        col(
            "scope",
            Type::Enum(ASSEMBLY_SCOPES),
            None,
            false,
            "`network`, `circuit` or `neuron`",
        ),
        col(
            "id",
            Type::UInt,
            None,
            true,
            "circuit or neuron id (empty for scope `network`)",
        ),
        col("metric", Type::Str, None, false, "metric name"),
        opt_number("value", "its value (empty when undefined)"),
    ],
};

/// Every CSV file of a run directory, in the order of docs/formats.md.
pub const FILES: &[&FileSchema] = &[
    &CIRCUITS,
    &NEURONS,
    &SOURCES,
    &CIRCUIT_PAIRS,
    &SYNAPSES,
    &INPUT_SPIKES,
    &SPIKES,
    &PHASES,
    &PROTOCOL,
    &PATTERNS,
    &NEURON_TRACES,
    &SYNAPSE_TRACES,
    &READOUT,
    &READOUT_OUTPUT,
    &ORDERING,
    &ASSEMBLIES,
];

/// Version of the export format of [`to_json`]; raise it when a column
/// changes name, type or meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// The schema as JSON (checked in as `docs/formats.schema.json`).
pub fn to_json() -> Value {
    let files: Vec<Value> = FILES
        .iter()
        .map(|f| {
            let columns: Vec<Value> = f
                .columns
                .iter()
                .map(|c| {
                    let mut v = json!({
                        "name": c.name,
                        "type": c.ty.name(),
                        "unit": c.unit,
                        "nullable": c.nullable,
                        "description": c.description,
                    });
                    if let Type::Enum(values) = c.ty {
                        v["values"] = json!(values);
                    }
                    v
                })
                .collect();
            json!({
                "name": f.name,
                "section": f.section.name(),
                "description": f.description,
                "columns": columns,
            })
        })
        .collect();
    json!({
        "schema_version": SCHEMA_VERSION,
        "csv": {
            "delimiter": ",",
            "header_rows": 1,
            "decimal": ".",
            "null": "",
            "bool": ["true", "false"],
        },
        "reading": {
            "columns": "by header name, any order",
            "extra_columns": "ignored",
            "missing_column": "error",
            "empty_cell_in_non_nullable_column": "error",
        },
        "types": {
            "uint": "non-negative integer",
            "float": "floating-point number",
            "bool": "true or false",
            "str": "text without commas",
            "enum": "one of `values`",
        },
        "files": files,
    })
}

/// Escapes `|` for a markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The file tables of docs/formats.md (between its `schema:begin` and
/// `schema:end` markers), generated from [`FILES`].
pub fn markdown() -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for section in Section::ALL {
        let _ = writeln!(out, "## {}\n", section.title());
        for f in FILES.iter().filter(|f| f.section == section) {
            let _ = writeln!(out, "### `{}`\n\n{}\n", f.name, f.description);
            out.push_str(
                "| column | type | unit | empty | meaning |\n| --- | --- | --- | --- | --- |\n",
            );
            for c in f.columns {
                let ty = match c.ty {
                    Type::Enum(v) => v
                        .iter()
                        .map(|x| format!("`{x}`"))
                        .collect::<Vec<_>>()
                        .join(" \\| "),
                    t => t.name().to_string(),
                };
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} | {} | {} |",
                    c.name,
                    ty,
                    c.unit.unwrap_or(""),
                    if c.nullable { "yes" } else { "" },
                    cell(c.description)
                );
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::PhaseRole;
    use crate::model::input::SegmentKind;

    #[test]
    fn names_are_unique_and_enums_match_the_model() {
        for f in FILES {
            let mut names = f.names();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), f.columns.len(), "{}", f.name);
        }
        let roles: Vec<&str> = [PhaseRole::Train, PhaseRole::ReadoutFit, PhaseRole::Test]
            .iter()
            .map(|r| r.as_str())
            .collect();
        assert_eq!(roles, PHASE_ROLES);
        let kinds: Vec<&str> = [SegmentKind::Noise, SegmentKind::Pattern]
            .iter()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(kinds, SEGMENT_KINDS);
    }
}
